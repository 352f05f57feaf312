/**
 * The error-rate floor of the analysis engine's odds-ratio test (src/analysis/engine.ts). Here, in a leaf of
 * config, because config validation uses it too: a `maxIncreaseOver` whose `by` no rate could exceed is an
 * error in the file, not a test that can never fail.
 */

/**
 * The smallest canary rate c such that "odds ratio > w0 AND pc > c" implies pc > ps + by:
 * with ps < pc/(w0 (1-pc) + pc), pc - ps > pc (w0-1)(1-pc) / (w0 (1-pc) + pc) >= by.
 * Infinity when no rate satisfies it (`by` too large for this ratio).
 */
export function absoluteFloorFor(by: number, w0: number): number {
  if (by <= 0) return 0;
  const gap = (p: number) => (p * (w0 - 1) * (1 - p)) / (w0 * (1 - p) + p);
  // gap rises from 0 to a single maximum, then falls: bisect on the rising part.
  let peak = 0;
  let best = 0;
  for (let i = 1; i < 1000; i++) {
    const p = i / 1000;
    const g = gap(p);
    if (g > best) {
      best = g;
      peak = p;
    }
  }
  if (best < by) return Number.POSITIVE_INFINITY;
  let lo = 0;
  let hi = peak;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (gap(mid) >= by) hi = mid;
    else lo = mid;
  }
  return hi;
}
