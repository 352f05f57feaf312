import { withSummary } from './analysis-summary.ts';
import type {
  Action,
  CoreEvent,
  ObservedInstance,
  Plan,
  Revision,
  RevisionOutcome,
  Rollout,
  ServiceSpec,
  ServiceState,
} from './model.ts';
import { asStrategy } from './rollout.ts';
import { drainOthers, scaleRevision } from './scale.ts';

/** `revisions` with revision `number` given `outcome` (and `message` when one is given). */
export function withOutcome(
  revisions: Revision[],
  number: number,
  outcome: RevisionOutcome,
  message?: string,
): Revision[] {
  return revisions.map((r) => (r.number === number ? { ...r, outcome, message: message ?? r.message } : r));
}

/** A finished rollout as kept in `lastRollout`: a canary no longer takes traffic or copies. */
function finished(rollout: Rollout, phase: Rollout['phase'], now: number, reason: string): Rollout {
  const done: Rollout = { ...rollout, phase, finishedAt: now, message: reason, waitingFor: undefined };
  if (done.strategy === 'canary') return { ...done, canaryWeight: 0, mirror: undefined };
  return done;
}

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
  const rollout = state.rollout;
  if (!rollout) return { state, events: [] };
  const message = `${failed ? 'rollout failed' : 'rollout aborted'}: ${reason}; revision ${state.stable} serves all traffic`;
  return {
    state: {
      ...state,
      revisions: withSummary(
        withOutcome(state.revisions, rollout.to, failed ? 'failed' : 'aborted', reason),
        rollout,
        now,
      ),
      rollout: undefined,
      lastRollout: finished(rollout, failed ? 'Failed' : 'Aborted', now, reason),
      phase: failed ? 'Degraded' : 'Aborted',
      message,
    },
    events: [
      {
        service: state.name,
        type: failed ? 'RolloutFailed' : 'RolloutAborted',
        revision: rollout.to,
        message,
      },
    ],
  };
}

export interface FailOptions {
  /** An analysis was the reason: AnalysisFailed is recorded first. */
  byAnalysis?: boolean;
  /**
   * Go back by rolling out the revision that was serving (a rolling update, whose old instances
   * are replaced as the new ones come up) instead of pulling traffic back at once.
   */
  rollBack?: boolean;
}

/**
 * A rollout that failed on its own (progress deadline, analysis, hook): the plan that ends it.
 * Canary and blue-green pull traffic back to stable at once; a rolling update rolls back.
 */
export function failRollout(
  state: ServiceState,
  rollout: Rollout,
  now: number,
  reason: string,
  options: FailOptions = {},
): Plan {
  const analysisEvents: CoreEvent[] = options.byAnalysis
    ? [{ service: state.name, type: 'AnalysisFailed', revision: rollout.to, message: reason }]
    : [];
  if (options.rollBack) {
    const back = rollBack(state, rollout, now, reason);
    return { ...back, events: [...analysisEvents, ...back.events] };
  }
  const aborted = abortRollout({ ...state, rollout }, now, reason, true);
  return { state: aborted.state, actions: [], events: [...analysisEvents, ...aborted.events] };
}

/** The failed revision is marked; the one that was serving is rolled out again (when there is one). */
function rollBack(state: ServiceState, rollout: Rollout, now: number, reason: string): Plan {
  const failed: Rollout = { ...rollout, phase: 'Failed', finishedAt: now, message: reason };
  const events: CoreEvent[] = [
    { service: state.name, type: 'RolloutFailed', revision: rollout.to, message: reason },
  ];
  const revisions = withSummary(withOutcome(state.revisions, rollout.to, 'failed', reason), rollout, now);
  const previous = rollout.from;
  if (rollout.kind === 'rollback' || previous === undefined || previous === rollout.to) {
    const next: ServiceState = {
      ...state,
      revisions,
      rollout: undefined,
      lastRollout: failed,
      phase: 'Degraded',
      message: reason,
    };
    return { state: next, actions: [], events };
  }
  const back = asStrategy(
    {
      kind: 'rollback',
      from: rollout.to,
      to: previous,
      phase: 'Progressing',
      startedAt: now,
      lastProgressAt: now,
      progressKey: '',
      message: reason,
    },
    rollout.strategy,
  );
  events.push({
    service: state.name,
    type: 'RollbackStarted',
    revision: previous,
    message: `rolling back to revision ${previous}`,
  });
  const next: ServiceState = {
    ...state,
    revisions,
    rollout: back,
    lastRollout: failed,
    phase: 'Progressing',
    message: `rolling back to revision ${previous}: ${reason}`,
  };
  return { state: next, actions: [], events };
}

/**
 * The plan that makes the rollout's revision stable: full size, everything else drained, and the
 * postPromotion hook run when there is one. A finished rollback keeps the service Degraded: the
 * revision it went back to was stable already, the failed one is marked.
 */
export function succeedRollout(
  spec: ServiceSpec,
  state: ServiceState,
  rollout: Rollout,
  instances: ObservedInstance[],
  now: number,
  drainReason: string,
): Plan {
  const target = rollout.to;
  const rolledBack = rollout.kind === 'rollback';
  const message = rolledBack
    ? `rolled back to revision ${target}: ${rollout.message ?? ''}`.trim()
    : `revision ${target} is stable`;
  const revisions = rolledBack
    ? state.revisions
    : withSummary(state.revisions, rollout, now, spec.analysis).map(
        (revision): Revision =>
          revision.number === target
            ? { ...revision, outcome: 'stable' }
            : revision.number === state.stable
              ? { ...revision, outcome: 'superseded' }
              : revision,
      );
  const next: ServiceState = {
    ...state,
    revisions,
    stable: target,
    rollout: undefined,
    lastRollout: { ...rollout, phase: 'Succeeded', finishedAt: now, waitingFor: undefined },
    phase: rolledBack ? 'Degraded' : 'Healthy',
    message,
  };
  const actions: Action[] = [
    ...scaleRevision(spec.name, instances, target, spec.replicas, 'scale down'),
    ...drainOthers(spec.name, instances, [target], drainReason),
  ];
  if (spec.hooks?.postPromotion) {
    actions.push({ type: 'runHook', service: spec.name, hook: 'postPromotion', revision: target });
  }
  return {
    state: next,
    actions,
    events: [{ service: spec.name, type: 'RolloutSucceeded', revision: target, message }],
  };
}

/** `plan` with `earlier` events (from the same reconcile, e.g. steps completed) in front of its own. */
export function after(earlier: CoreEvent[], plan: Plan): Plan {
  return earlier.length === 0 ? plan : { ...plan, events: [...earlier, ...plan.events] };
}
