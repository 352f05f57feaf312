/**
 * Waiting for a condition instead of sleeping: the check is polled until it holds, and the overall bound is
 * generous (a busy CI machine is slow, not stuck) and only there to turn a hang into a failure that names
 * what it waited for.
 */

import { sleep } from '../../src/util/sleep.ts';

/** Default overall bound of `waitFor`. */
export const WAIT_TIMEOUT_MS = 5000;
const POLL_INTERVAL_MS = 10;

/** Polls `check` every 10 ms until it returns true; throws "timed out waiting for <what>" after timeoutMs. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = WAIT_TIMEOUT_MS,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_INTERVAL_MS);
  }
}
