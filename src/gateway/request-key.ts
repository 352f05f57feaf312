/**
 * Readers of a request key (`header:NAME`, `cookie:NAME`, `query:NAME`, `ip`): what `hash` balancing
 * and `limits.rate` key on. Compiled once per route table.
 */
import type { RequestKey } from '../config/types.ts';
import { findCookie, headerValue, type RequestHeaders } from './traffic.ts';

/** The key of a request (undefined: the request has none); `peer` is the client address to use for `ip`. */
export type KeyReader = (
  headers: RequestHeaders,
  target: string,
  peer: string | undefined,
) => string | undefined;

/** Null for `route` (one key for the whole service). */
export function keyReader(k: RequestKey): KeyReader | null {
  if (k.source === 'route') return null;
  if (k.source === 'ip') return (_h, _t, peer) => peer;
  const name = k.name;
  if (k.source === 'header') return (h) => headerValue(h, name);
  if (k.source === 'cookie') {
    return (h) => {
      const c = headerValue(h, 'cookie');
      return c === undefined ? undefined : findCookie(c, name);
    };
  }
  return (_h, target) => {
    const q = target.indexOf('?');
    return q === -1 ? undefined : (new URLSearchParams(target.slice(q + 1)).get(name) ?? undefined);
  };
}
