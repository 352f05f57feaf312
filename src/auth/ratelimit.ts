/**
 * Counts failed authentications per source address in a sliding window. Only failures are
 * counted and checked: a request with a valid token is never throttled.
 */
export class FailureLimiter {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly failures = new Map<string, number[]>();
  /** When the last throttled request of an address was noted (one audit entry per window). */
  private readonly noted = new Map<string, number>();

  constructor(opts: { limit?: number; windowMs?: number; maxAddresses?: number } = {}) {
    this.limit = opts.limit ?? 10;
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
  }

  private recent(addr: string, now: number): number[] {
    const list = (this.failures.get(addr) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length === 0) this.failures.delete(addr);
    else this.failures.set(addr, list);
    return list;
  }

  /** Seconds until `addr` may try again, or 0 when it is not throttled. */
  retryAfter(addr: string, now: number): number {
    const list = this.recent(addr, now);
    if (list.length < this.limit) return 0;
    return Math.max(1, Math.ceil((list[list.length - this.limit] + this.windowMs - now) / 1000));
  }

  /** Records a failed authentication. */
  fail(addr: string, now: number): void {
    if (!this.failures.has(addr) && this.failures.size >= this.maxAddresses) {
      // Bounded memory: forget the address seen longest ago.
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    const list = this.recent(addr, now);
    list.push(now);
    // Re-insert so the map stays ordered by last failure.
    this.failures.delete(addr);
    this.failures.set(addr, list.slice(-this.limit));
  }

  /** True once per window for a throttled address: whether this refusal should be audited. */
  shouldNote(addr: string, now: number): boolean {
    const last = this.noted.get(addr);
    if (last !== undefined && last > now - this.windowMs) return false;
    if (this.noted.size >= this.maxAddresses) this.noted.clear();
    this.noted.set(addr, now);
    return true;
  }
}
