import type { Logger } from '../log/logger.ts';
import { sleep } from '../util/sleep.ts';
import type { HostAgent } from './agent.ts';

/** How often a draining instance's in-flight count is read from the gateway. */
const DRAIN_POLL_MS = 50;

/**
 * Waits until the gateway reports no request in flight to instance `id` (it has left the
 * routing table already), or until `deadline`. Resolves with the count still in flight.
 */
export async function awaitIdle(
  agent: HostAgent,
  id: string,
  deadline: number,
  now: () => number,
  log: Logger,
): Promise<number> {
  let inflight = 0;
  while (now() < deadline) {
    try {
      inflight = (await agent.inflight())[id] ?? 0;
    } catch (err) {
      log.warn('cannot read in-flight count from gateway', { err });
    }
    if (inflight === 0) break;
    await sleep(DRAIN_POLL_MS);
  }
  return inflight;
}
