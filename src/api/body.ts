import type http from 'node:http';
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
export function readJson(
  req: http.IncomingMessage,
  maxBytes = MAX_BODY_BYTES,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(new ApiError(413, 'body_too_large', `request body is larger than ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          reject(new ApiError(400, 'invalid_body', 'request body: must be a JSON object'));
          return;
        }
        resolve(v as Record<string, unknown>);
      } catch (err) {
        reject(new ApiError(400, 'invalid_body', `request body: invalid JSON (${(err as Error).message})`));
      }
    });
  });
}
