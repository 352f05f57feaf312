/**
 * The token buckets of every `limits.rate` policy of a gateway, by policy set (service and
 * policy signature). The master holds one for all its workers; a gateway without a master (a
 * worker whose master is gone, an in-process gateway) holds its own.
 */
import { type Grant, type RateParams, TokenBuckets } from './rate-bucket.ts';

/** A policy set nobody took from for this long is dropped (its policy was changed or removed). */
const IDLE_SET_MS = 60_000;
/** How often full buckets and idle sets are dropped. */
export const RATE_SWEEP_MS = 1000;

export class RateBroker {
  readonly #sets = new Map<string, TokenBuckets>();
  /** Started by the first take: a gateway without `limits.rate` runs no timer. */
  #timer: NodeJS.Timeout | null = null;

  take(set: string, params: RateParams, key: string, want: number, shares: number, now: number): Grant {
    this.#timer ??= setInterval(() => this.sweep(Date.now()), RATE_SWEEP_MS).unref();
    return this.#set(set, params).take(key, want, shares, now);
  }

  giveBack(set: string, params: RateParams, key: string, n: number, now: number): void {
    this.#set(set, params).giveBack(key, n, now);
  }

  sweep(now: number): void {
    for (const [name, set] of this.#sets) {
      set.sweep(now);
      if (set.size === 0 && now - set.usedAt > IDLE_SET_MS) this.#sets.delete(name);
    }
  }

  #set(name: string, params: RateParams): TokenBuckets {
    let set = this.#sets.get(name);
    if (set === undefined) {
      set = new TokenBuckets(params);
      this.#sets.set(name, set);
    }
    return set;
  }
}
