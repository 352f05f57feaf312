/** An HTTP hook: one request (no redirects followed), judged by its status. */
import { formatDuration } from '../config/duration.ts';
import type { HookConfig } from '../config/types.ts';
import { errorText } from '../util/error-text.ts';
import type { HookContext, HookOutcome } from './types.ts';
import { hookVars, substituteHook } from './vars.ts';

/** Bytes of an HTTP response body kept (the head). */
export const HTTP_BODY_BYTES = 1024;

export async function runHttp(
  http: NonNullable<HookConfig['http']>,
  timeoutMs: number,
  ctx: HookContext,
): Promise<HookOutcome> {
  const method = (http.method || 'GET').toUpperCase();
  const url = substituteHook(http.url, hookVars(ctx));
  const what = `${method} ${url}`;
  if (ctx.signal?.aborted) return { ok: false, output: '', error: 'aborted' };
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
  const failure = (err: unknown): HookOutcome => {
    if (timeout.aborted)
      return { ok: false, output: '', error: `timed out after ${formatDuration(timeoutMs)}` };
    if (ctx.signal?.aborted) return { ok: false, output: '', error: 'aborted' };
    return { ok: false, output: '', error: `${what}: ${errorText(err)}` };
  };
  let res: Response;
  try {
    // No redirects followed: the status compared is the one the target answered.
    res = await fetch(url, { method, signal, redirect: 'manual', headers: { 'user-agent': 'cutover-hook' } });
  } catch (err) {
    return failure(err);
  }
  let body = '';
  try {
    body = await readHead(res, HTTP_BODY_BYTES);
  } catch (err) {
    if (timeout.aborted || ctx.signal?.aborted) return failure(err);
    // A body that breaks off after the status does not change the verdict.
  }
  const statusLine = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  const output = body ? `${statusLine}\n${body}` : statusLine;
  const ok =
    http.expectStatus !== undefined
      ? res.status === http.expectStatus
      : res.status >= 200 && res.status < 300;
  if (ok) return { ok, output };
  const expected = http.expectStatus !== undefined ? ` (expected ${http.expectStatus})` : '';
  return { ok, output, error: `${what}: ${res.status}${expected}` };
}

/** The first `limit` bytes of the body; the rest is not read. */
async function readHead(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const buf = Buffer.concat(chunks).subarray(0, limit);
  return buf.toString('utf8');
}
