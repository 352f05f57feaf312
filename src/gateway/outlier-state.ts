/** What outlier detection (outlier.ts) keeps per instance, on the Upstream so it outlives route tables. */
export interface OutlierState {
  consecutive5xx: number;
  windowStart: number;
  windowRequests: number;
  windowErrors: number;
  /** Ejections in a row without a clean window between them (the doubling). */
  repeats: number;
}

export function newOutlierState(): OutlierState {
  return { consecutive5xx: 0, windowStart: 0, windowRequests: 0, windowErrors: 0, repeats: 0 };
}

/** What a service's outlier detection is to the request path: it hears every finished answer. */
export interface AnswerObserver<U> {
  observe(up: U, revision: number, failed: boolean, now: number): void;
}
