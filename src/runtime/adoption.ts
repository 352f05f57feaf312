/**
 * Adoption: taking over an instance a previous controller started (after a crash or
 * `--keep-running`) without restarting it. It is not our child, so its exit is noticed by polling
 * its process group.
 */

import { sleep } from '../util/sleep.ts';
import { type Instance, updateStatus } from './instance.ts';
import { newProcess } from './lifecycle.ts';
import { probeHttp } from './probe.ts';
import { processGroupAlive } from './process-group.ts';

/** How often an adopted (not our child) process group is checked for exit. */
const ADOPTED_POLL_MS = 250;

/**
 * Makes process group `pid` the current process of `inst`. It is ready only if a readiness probe
 * succeeds — never assumed — and from then on it is supervised like any other. Up to
 * `failureThreshold` probes are tried, as for a running instance: one slow answer on a loaded
 * host does not take a serving instance out of the routes.
 */
export async function adoptProcess(inst: Instance, pid: number, port: number): Promise<void> {
  const { spec } = inst;
  // The pid is known before the probe answers: status shows it while adoption is under way.
  updateStatus(inst, { pid });
  let first = await probeHttp(port, spec.readiness.path, spec.readiness.timeoutMs);
  for (
    let tried = 1;
    !first.ok && tried < spec.readiness.failureThreshold && processGroupAlive(pid);
    tried++
  ) {
    await sleep(spec.readiness.intervalMs);
    first = await probeHttp(port, spec.readiness.path, spec.readiness.timeoutMs);
  }
  const { proc, markExited } = newProcess(inst, pid, { readyAtStart: first.ok });
  inst.proc = proc;
  inst.pollTimer = setInterval(() => {
    if (processGroupAlive(proc.pid)) return;
    clearInterval(inst.pollTimer);
    inst.pollTimer = undefined;
    markExited(null, null);
  }, ADOPTED_POLL_MS);
  inst.log.info('instance adopted', { pid: proc.pid, port, ready: first.ok, error: first.error });
  if (!first.ok) inst.status.lastProbeError = first.error;
  updateStatus(inst, {
    phase: first.ok ? 'running' : 'starting',
    pid: proc.pid,
    ready: first.ok,
    readySince: first.ok ? inst.host.now() : undefined,
  });
  if (first.ok) proc.probes.startLiveness();
  proc.probes.scheduleReadiness(spec.readiness.intervalMs);
}
