/**
 * Host + path-prefix routing, compiled once per route table so that a lookup is a map hit plus a few
 * `startsWith` calls. No regexes, no allocations on the hot path (the per-Host cache is keyed by the raw
 * Host header value).
 */

export interface RouteEntry<T> {
  /** `*` or a host name (any port suffix and case are ignored). */
  host: string;
  /** Starts with `/`. `/api` matches `/api`, `/api/x`, `/api?q`, not `/apix`. */
  pathPrefix: string;
  value: T;
}

interface Candidate<T> {
  prefix: string;
  /** `prefix` ends with `/`: a plain startsWith is segment-aware already. */
  endsWithSlash: boolean;
  value: T;
}

const CACHE_LIMIT = 1024;

export class Router<T> {
  readonly #byHost = new Map<string, Candidate<T>[]>();
  readonly #wildcard: Candidate<T>[];
  /** Raw Host header value -> candidates (exact-host routes first, then wildcard routes). */
  readonly #cache = new Map<string, Candidate<T>[]>();

  constructor(entries: readonly RouteEntry<T>[]) {
    const wildcard: Candidate<T>[] = [];
    for (const e of entries) {
      const c: Candidate<T> = {
        prefix: e.pathPrefix,
        endsWithSlash: e.pathPrefix.endsWith('/'),
        value: e.value,
      };
      if (e.host === '*') {
        wildcard.push(c);
        continue;
      }
      const host = normalizeHost(e.host);
      let list = this.#byHost.get(host);
      if (!list) {
        list = [];
        this.#byHost.set(host, list);
      }
      list.push(c);
    }
    const byLength = (a: Candidate<T>, b: Candidate<T>) => b.prefix.length - a.prefix.length;
    wildcard.sort(byLength);
    this.#wildcard = wildcard;
    for (const [host, list] of this.#byHost) {
      list.sort(byLength);
      this.#byHost.set(host, list.concat(wildcard));
    }
  }

  /** `host` is the raw Host header (may carry a port, any case); `path` is the request target (origin-form). */
  match(host: string | undefined, path: string): T | undefined {
    const candidates = host === undefined ? this.#wildcard : this.#candidates(host);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      const p = c.prefix;
      if (!path.startsWith(p)) continue;
      if (c.endsWithSlash || path.length === p.length) return c.value;
      const next = path.charCodeAt(p.length);
      // '/', '?', '#'
      if (next === 47 || next === 63 || next === 35) return c.value;
    }
    return undefined;
  }

  #candidates(rawHost: string): Candidate<T>[] {
    const cached = this.#cache.get(rawHost);
    if (cached !== undefined) return cached;
    const list = this.#byHost.get(normalizeHost(rawHost)) ?? this.#wildcard;
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(rawHost, list);
    return list;
  }
}

/** Lower-cases and strips a `:port` suffix (IPv6 literals keep their brackets) and a trailing dot. */
export function normalizeHost(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) end = colon;
  }
  if (end > 1 && host.charCodeAt(end - 1) === 46 /* . */) end--;
  return (end === host.length ? host : host.slice(0, end)).toLowerCase();
}
