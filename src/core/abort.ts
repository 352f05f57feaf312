import type {
  CoreEvent,
  ObservedInstance,
  Plan,
  Revision,
  Rollout,
  ServiceSpec,
  ServiceState,
} from './model.ts';
import { drainOthers, scaleRevision } from './scale.ts';

/**
 * Ends the running rollout without promoting it: traffic goes back to the stable revision at once
 * (the routing view no longer includes the new revision) and the steady-state plan drains the
 * new instances. `failed` (automatic, e.g. progressDeadline) leaves the service Degraded; an
 * operator's abort leaves it Aborted. `deploy` or `retry` starts again.
 */
export function abortRollout(
  state: ServiceState,
  now: number,
  reason: string,
  failed: boolean,
): { state: ServiceState; events: CoreEvent[] } {
  const r = state.rollout;
  if (!r) return { state, events: [] };
  const done: Rollout = {
    ...r,
    phase: failed ? 'Failed' : 'Aborted',
    finishedAt: now,
    message: reason,
    canaryWeight: 0,
    mirror: undefined,
    waitingFor: undefined,
  };
  const revisions: Revision[] = state.revisions.map((x) =>
    x.number === r.to ? { ...x, outcome: failed ? 'failed' : 'aborted', message: reason } : x,
  );
  const message = `${failed ? 'rollout failed' : 'rollout aborted'}: ${reason}; revision ${state.stable} serves all traffic`;
  return {
    state: {
      ...state,
      revisions,
      rollout: undefined,
      lastRollout: done,
      phase: failed ? 'Degraded' : 'Aborted',
      message,
    },
    events: [
      { service: state.name, type: failed ? 'RolloutFailed' : 'RolloutAborted', revision: r.to, message },
    ],
  };
}

/** Makes revision `to` stable after a successful rollout. */
function completeRollout(state: ServiceState, now: number, message: string): ServiceState {
  const r = state.rollout!;
  const revisions: Revision[] = state.revisions.map((x) =>
    x.number === r.to
      ? { ...x, outcome: 'stable' }
      : x.number === state.stable && x.number !== r.to
        ? { ...x, outcome: 'superseded' }
        : x,
  );
  return {
    ...state,
    revisions,
    stable: r.to,
    rollout: undefined,
    lastRollout: { ...r, phase: 'Succeeded', finishedAt: now, waitingFor: undefined },
    phase: 'Healthy',
    message,
  };
}

/**
 * A rollout that failed on its own (progress deadline, analysis, hook): the plan that aborts it,
 * with the events so far, plus AnalysisFailed when an analysis was the reason.
 */
export function failRollout(
  state: ServiceState,
  r: Rollout,
  now: number,
  reason: string,
  events: CoreEvent[],
  byAnalysis = false,
): Plan {
  if (byAnalysis)
    events.push({ service: state.name, type: 'AnalysisFailed', revision: r.to, message: reason });
  const a = abortRollout({ ...state, rollout: r }, now, reason, true);
  return { state: a.state, actions: [], events: [...events, ...a.events] };
}

/** The plan that makes the rollout's revision stable: full size, everything else drained. */
export function succeedRollout(
  spec: ServiceSpec,
  state: ServiceState,
  instances: ObservedInstance[],
  now: number,
  events: CoreEvent[],
  drainReason: string,
): Plan {
  const target = state.rollout!.to;
  const done = completeRollout(state, now, `revision ${target} is stable`);
  events.push({
    service: spec.name,
    type: 'RolloutSucceeded',
    revision: target,
    message: done.message ?? '',
  });
  return {
    state: done,
    actions: [
      ...scaleRevision(spec.name, instances, target, spec.replicas, 'scale down'),
      ...drainOthers(spec.name, instances, [target], drainReason),
    ],
    events,
  };
}
