/**
 * `retries.budget`: retries at most `percent` of a service's requests (per worker, so the whole
 * gateway stays within it too), so an outage of every instance does not multiply the load by the
 * attempt count. Each finished request earns `percent / 100` of a retry, up to a small reserve that
 * lets a quiet service still retry its occasional failure; each retry spends one.
 */

/** Retries a service may bank: enough for a burst of single failures, too few for a storm. */
export const RETRY_RESERVE = 10;

export class RetryBudget {
  private readonly share: number;
  private tokens = RETRY_RESERVE;

  constructor(percent: number) {
    this.share = percent / 100;
  }

  earn(): void {
    this.tokens = Math.min(RETRY_RESERVE, this.tokens + this.share);
  }

  /** Takes one retry if the budget has one. */
  take(): boolean {
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
