/**
 * Canary across hosts, as pure functions. Every host of the service is in one wave and runs the
 * canary steps itself (weights, sticky buckets, mirroring and analysis stay local, on the exact
 * counts of its own gateway); the leader only says how far the hosts may go: the steps with an
 * index below `canaryStep`. It lets them one step past the slowest host, so weights differ by at
 * most one step between hosts, and holds them at an untimed pause until the fleet's promote.
 */

import type { ServiceState } from '../model.ts';
import type { CommandResult } from '../service.ts';
import type {
  FleetCanarySpec,
  FleetEvent,
  FleetRollout,
  FleetServiceState,
  HostServiceReport,
} from './model.ts';

/** The first step every host may run: none is started before the leader says so. */
export const FIRST_CANARY_STEP = 1;

/** Where a host of the wave is: its local step, 0 before it acted on this generation. */
function hostStep(
  spec: FleetCanarySpec,
  state: FleetServiceState,
  host: string,
  report: HostServiceReport | undefined,
): number {
  const a = state.assignments[host];
  if (!report || !a || report.generation !== a.generation) return 0;
  if (report.canaryStep !== undefined) return report.canaryStep;
  // No local canary for this generation any more: it ended (succeeded or failed; the wave decides).
  return report.outcome === 'progressing' ? 0 : spec.steps;
}

function describeLimit(spec: FleetCanarySpec, step: number): string {
  return step > spec.steps ? 'the promotion' : `step ${step}/${spec.steps}`;
}

/** The hosts wait at an untimed pause: the step they may run last is one. */
export function heldAtPause(spec: FleetCanarySpec, canaryStep: number): boolean {
  return spec.holds.includes(canaryStep - 1);
}

/** One reconcile of the fleet's canary: lets every host one step past the slowest one. */
export function canaryProgress(
  spec: FleetCanarySpec,
  state: FleetServiceState,
  r: FleetRollout,
  reportOf: (host: string) => HostServiceReport | undefined,
  events: FleetEvent[],
): FleetRollout {
  const at = r.wave.map((h) => hostStep(spec, state, h, reportOf(h)));
  const slowest = Math.min(...at);
  const limit = r.canaryStep ?? FIRST_CANARY_STEP;
  const next = heldAtPause(spec, limit) ? limit : Math.min(spec.steps + 1, Math.max(limit, slowest + 1));
  if (next !== limit) {
    events.push({
      service: state.name,
      type: 'FleetCanaryStep',
      generation: state.generation,
      message: `every host reached step ${slowest}/${spec.steps}: they may run ${describeLimit(spec, next)}`,
    });
  }
  const slowHosts = r.wave.filter((_h, i) => at[i] === slowest);
  const message = heldAtPause(spec, next)
    ? `step ${next}/${spec.steps} (pause) on every host: waiting for promote`
    : `canary: hosts may run ${describeLimit(spec, next)}; slowest ${slowHosts.join(', ')} at step ${slowest + 1}/${spec.steps}`;
  return { ...r, canaryStep: next, message };
}

/** The fleet's promote of a canary: past the untimed pause every host waits at, or (full) to the promotion. */
export function canaryPromote(
  spec: FleetCanarySpec,
  state: FleetServiceState,
  r: FleetRollout,
  full: boolean,
): { ok: true; rollout: FleetRollout; message: string } | { ok: false; message: string } {
  const limit = r.canaryStep ?? FIRST_CANARY_STEP;
  if (full) {
    return {
      ok: true,
      rollout: {
        ...r,
        canaryStep: spec.steps + 1,
        promoted: 'full',
        message: 'full promotion on every host',
      },
      message: `full promotion of ${r.to.version} on ${r.wave.join(', ')}: remaining steps skipped`,
    };
  }
  if (!heldAtPause(spec, limit)) {
    return {
      ok: false,
      message: `the canary of "${state.name}" is not held at a pause (hosts may run ${describeLimit(spec, limit)}); use --full to skip the remaining steps`,
    };
  }
  return {
    ok: true,
    rollout: { ...r, canaryStep: limit + 1, message: `pause at step ${limit}/${spec.steps} promoted` },
    message: `step ${limit}/${spec.steps} (pause) promoted on every host`,
  };
}

/** A host takes the fleet's step limit into its local canary rollout. */
export function setFleetStep(state: ServiceState, step: number): CommandResult {
  const r = state.rollout;
  if (r?.strategy !== 'canary') {
    return {
      ok: false,
      code: 'no_rollout',
      message: `service "${state.name}" has no canary rollout`,
    };
  }
  return { ok: true, state: { ...state, rollout: { ...r, fleetStep: step } }, revision: r.to, events: [] };
}
