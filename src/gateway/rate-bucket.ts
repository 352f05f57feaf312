/**
 * The token buckets of one `limits.rate` policy, one per key (pure: time comes in as `now`). The
 * gateway master holds them for all its workers, so the whole gateway admits `requests` per `per`
 * plus `burst` per key. Workers take tokens in small batches (a lease): tokens a worker holds are
 * still the bucket's, only kept closer to the requests, so the token bucket bound holds exactly
 * across workers.
 */

export interface RateParams {
  requests: number;
  perMs: number;
  burst: number;
}

export interface Grant {
  /** Tokens the asker may spend now (0: the bucket is empty). */
  granted: number;
  /** Whole tokens left in the bucket after the grant. */
  remaining: number;
  /** With `granted` 0: when the next token is there. */
  retryAfterMs: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** The signature of a policy: buckets are kept while it is unchanged (a route table change keeps them). */
export function rateSignature(p: RateParams): string {
  return `${p.requests}/${p.perMs}/${p.burst}`;
}

export class TokenBuckets {
  readonly params: RateParams;
  readonly #perToken: number;
  readonly #buckets = new Map<string, Bucket>();
  /** Last take or give-back: a set nobody used for long is dropped by the broker. */
  usedAt = 0;

  constructor(params: RateParams) {
    this.params = params;
    this.#perToken = params.perMs / params.requests;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes up to `want` tokens, more when the bucket is well filled (a batch, so a busy worker does not
   * ask per request): at most a `1 / (2 * shares)` part of what is there, so the other workers find
   * tokens too. Exact when the bucket runs low: then only what is wanted, and never more than is there.
   */
  take(key: string, want: number, shares: number, now: number): Grant {
    this.usedAt = now;
    const b = this.#refilled(key, now);
    if (b.tokens < 1) {
      return { granted: 0, remaining: 0, retryAfterMs: Math.ceil((1 - b.tokens) * this.#perToken) };
    }
    const whole = Math.floor(b.tokens);
    const batch = Math.floor(whole / (2 * Math.max(1, shares)));
    const granted = Math.min(whole, Math.max(1, want, batch));
    b.tokens -= granted;
    return { granted, remaining: Math.floor(b.tokens), retryAfterMs: 0 };
  }

  /** Tokens a worker leased and did not spend come back (never beyond `burst`). */
  giveBack(key: string, n: number, now: number): void {
    this.usedAt = now;
    const b = this.#refilled(key, now);
    b.tokens = Math.min(this.params.burst, b.tokens + n);
  }

  /** Drops full buckets: a full bucket is the same as none (bounded memory under many keys). */
  sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) * this.params.requests) / this.params.perMs >= this.params.burst) {
        this.#buckets.delete(key);
      }
    }
  }

  #refilled(key: string, now: number): Bucket {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.params.burst, at: now };
      this.#buckets.set(key, b);
      return b;
    }
    if (now > b.at) {
      b.tokens = Math.min(this.params.burst, b.tokens + (now - b.at) / this.#perToken);
      b.at = now;
    }
    return b;
  }
}
