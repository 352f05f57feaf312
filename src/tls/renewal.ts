/**
 * When to renew a certificate and how long to wait after a failed order. Pure: the clock and the
 * randomness come from the caller.
 */

/** Renew when this fraction of the lifetime is left (a 90-day certificate: 30 days before expiry). */
export const RENEW_WHEN_LEFT = 1 / 3;
/** The first retry after a failure waits at least this long. */
export const RETRY_FLOOR_MS = 60_000;
/** No retry waits longer than this, however many failures in a row. */
export const RETRY_CAP_MS = 6 * 60 * 60_000;
/**
 * Up to this fraction of a delay is taken off at random, so hosts that failed together (a CA outage)
 * do not all come back at the same instant.
 */
export const RETRY_JITTER = 0.2;

/** The instant (ms epoch) a certificate valid from `notBefore` to `notAfter` should be renewed. */
export function renewAt(notBefore: number, notAfter: number): number {
  return notAfter - Math.max(0, notAfter - notBefore) * RENEW_WHEN_LEFT;
}

export interface RetryPolicy {
  floorMs: number;
  capMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { floorMs: RETRY_FLOOR_MS, capMs: RETRY_CAP_MS };

/**
 * The wait before the next attempt after `failures` failures in a row: floor, 2 x floor, 4 x floor, ...
 * at most the cap, minus up to RETRY_JITTER of it (`random()` in [0, 1)), never under the floor.
 * No failure: no wait.
 */
export function retryDelayMs(
  failures: number,
  random: () => number = Math.random,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number {
  if (failures <= 0) return 0;
  // The exponent is bounded first so that thousands of failures do not overflow to Infinity.
  const steps = Math.min(failures - 1, 52);
  const base = Math.min(policy.floorMs * 2 ** steps, policy.capMs);
  const jittered = base * (1 - RETRY_JITTER * random());
  return Math.round(Math.max(policy.floorMs, Math.min(jittered, policy.capMs)));
}
