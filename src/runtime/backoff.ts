/** Crash restarts: exponential backoff, reset once an instance has run stably. */

/** An instance that stayed up and ready this long resets its crash backoff. */
export const DEFAULT_STABLE_RESET_MS = 10_000;

/** The delay before the restart after `consecutiveCrashes` crashes in a row: base, 2 x base, 4 x base, ... at most `maxMs`. */
export function restartDelayMs(consecutiveCrashes: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** (consecutiveCrashes - 1), maxMs);
}

/**
 * Whether a process that exited at `at` had run stably: marked so by its stable timer, or ready
 * without interruption for at least `stableResetMs` (the timer may not have fired yet).
 */
export function ranStably(
  markedStable: boolean,
  status: { ready: boolean; readySince?: number },
  at: number,
  stableResetMs: number,
): boolean {
  if (markedStable) return true;
  const since = status.readySince;
  return status.ready && since !== undefined && at - since >= stableResetMs;
}
