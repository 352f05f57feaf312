import type { RequestKey } from './types.ts';

/** A request key as written in the config (`ip`, `route`, `header:x-user` ...): the inverse of readRequestKey. */
export function formatRequestKey(key: RequestKey): string {
  return key.source === 'ip' || key.source === 'route' ? key.source : `${key.source}:${key.name}`;
}
