/**
 * SNI selection: which certificate a TLS handshake gets for the server name the client sent. Runs once
 * per handshake, so the lookup is two map probes and, only for names that need it, one lower-casing.
 */

export interface BookEntry<T> {
  /** Exact names (`api.example.com`) and one-label wildcards (`*.example.com`). */
  hosts: readonly string[];
  value: T;
}

const UPPER_OR_TRAILING_DOT = /[A-Z]|\.$/;

/**
 * Certificates by host name. For one name the first entry that lists it wins, so callers order
 * entries by preference (e.g. explicitly configured before automatic).
 */
export class CertificateBook<T> {
  readonly #exact = new Map<string, T>();
  /** Keyed by the wildcard's parent: `*.example.com` is stored under `example.com`. */
  readonly #wildcard = new Map<string, T>();
  readonly #fallback: T | undefined;

  constructor(entries: readonly BookEntry<T>[], fallback?: T) {
    this.#fallback = fallback;
    for (const entry of entries) {
      for (const raw of entry.hosts) {
        const host = normalize(raw);
        if (host.startsWith('*.')) {
          const parent = host.slice(2);
          if (parent.length > 0 && !this.#wildcard.has(parent)) this.#wildcard.set(parent, entry.value);
        } else if (host.length > 0 && !this.#exact.has(host)) {
          this.#exact.set(host, entry.value);
        }
      }
    }
  }

  /** Exact name, then the `*.parent` wildcard (one label only), then the default. */
  lookup(servername: string | undefined): T | undefined {
    if (servername === undefined || servername.length === 0) return this.#fallback;
    const name = UPPER_OR_TRAILING_DOT.test(servername) ? normalize(servername) : servername;
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    // dot > 0: a name starting with a dot has an empty first label, which no wildcard matches.
    if (dot > 0 && this.#wildcard.size > 0) {
      const wild = this.#wildcard.get(name.slice(dot + 1));
      if (wild !== undefined) return wild;
    }
    return this.#fallback;
  }

  /** Number of distinct names (exact plus wildcard). */
  get size(): number {
    return this.#exact.size + this.#wildcard.size;
  }
}

function normalize(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
