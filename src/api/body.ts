import type http from 'node:http';
import { BodyTooLargeError, readBody } from '../util/http-json.ts';
import { ApiError } from './errors.ts';

/** Path parameters of a matched route. */
export type Params = Record<string, string>;
/** A route handler: resolves with the JSON body to send, or undefined when it answered itself. */
export type Handler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  p: Params,
  url: URL,
) => Promise<unknown>;

/** Request bodies above this are refused (413). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads a JSON object body (empty = `{}`); 400 for anything else, 413 above `maxBytes`. */
export async function readJson(
  req: http.IncomingMessage,
  maxBytes = MAX_BODY_BYTES,
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = (await readBody(req, maxBytes)).trim();
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      throw new ApiError(413, 'body_too_large', `request body is larger than ${maxBytes} bytes`);
    }
    throw err;
  }
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'invalid_body', `request body: invalid JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ApiError(400, 'invalid_body', 'request body: must be a JSON object');
  }
  return v as Record<string, unknown>;
}

/** Checks a body has only `allowed` keys (400 naming the others). */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length > 0) {
    throw new ApiError(
      400,
      'invalid_body',
      `request body: unknown field ${extra.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed.join(', ')})`,
    );
  }
}
