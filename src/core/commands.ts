import type { AnalysisState } from '../analysis/run.ts';
import type { TrafficConfig } from '../config/types.ts';
import { abortRollout } from './abort.ts';
import { describeStep } from './canary.ts';
import type { CoreEvent, Rollout, ServiceSpec, ServiceState } from './model.ts';
import { type CommandError, type CommandResult, startRollout, undo } from './service.ts';

const refuse = (code: CommandError['code'], message: string): CommandError => ({ ok: false, code, message });

function ok(state: ServiceState, events: CoreEvent[]): CommandResult {
  return { ok: true, state, revision: state.rollout?.to ?? state.stable, events };
}

function noRollout(state: ServiceState): CommandError {
  return refuse('no_rollout', `service "${state.name}" has no rollout in progress`);
}

/**
 * `promote`: canary — pass the current pause (`full`: skip every remaining step); blue-green —
 * switch all traffic to the preview side (once it has full size and is ready).
 */
export function promote(spec: ServiceSpec, state: ServiceState, now: number, full: boolean): CommandResult {
  const r = state.rollout;
  if (!r) return noRollout(state);
  const ev = (message: string): CoreEvent[] => [
    { service: state.name, type: 'RolloutPromoted', revision: r.to, message },
  ];
  if (spec.strategy.type === 'rolling') {
    return refuse(
      'unsupported',
      `service "${state.name}" uses a rolling update, which has no steps to promote`,
    );
  }
  // An analysis that could not decide waits for a human: promote means "go on anyway".
  const undecided = (a?: AnalysisState) => a?.phase === 'Inconclusive' || a?.phase === 'Error';
  if (undecided(r.analysis) || undecided(r.stepAnalysis)) {
    const stepDone = undecided(r.stepAnalysis) && spec.strategy.type === 'canary';
    const next: Rollout = {
      ...r,
      analysis: undecided(r.analysis) ? undefined : r.analysis,
      stepAnalysis: undefined,
      ...(stepDone ? { stepIndex: (r.stepIndex ?? 0) + 1, stepStartedAt: now } : {}),
    };
    return ok(
      { ...state, rollout: next, phase: 'Progressing' },
      ev('undecided analysis accepted by operator'),
    );
  }
  if (spec.strategy.type === 'blueGreen') {
    if (r.switchedAt !== undefined) {
      return refuse(
        'unsupported',
        `revision ${r.to} already receives all traffic; it becomes stable after scaleDownDelay`,
      );
    }
    if (full) {
      return ok(
        { ...state, rollout: { ...r, promoteRequested: true, fullPromote: true }, phase: 'Progressing' },
        ev(`switch to revision ${r.to} requested (analysis gate skipped)`),
      );
    }
    return ok(
      { ...state, rollout: { ...r, promoteRequested: true }, phase: 'Progressing' },
      ev(`switch to revision ${r.to} requested`),
    );
  }
  const steps = spec.strategy.steps;
  const i = r.stepIndex ?? 0;
  if (full) {
    return ok(
      { ...state, rollout: { ...r, fullPromote: true, manualPause: false }, phase: 'Progressing' },
      ev(`full promotion of revision ${r.to}: remaining steps skipped`),
    );
  }
  if (r.manualPause)
    return refuse(
      'not_paused',
      `the rollout was paused by an operator; use \`cutover resume ${state.name}\``,
    );
  const step = steps[i];
  if (!step || !('pause' in step)) {
    return refuse(
      'not_paused',
      `the rollout is not at a pause (step ${i + 1}/${steps.length}: ${step ? describeStep(step) : 'promotion'}); use --full to skip the remaining steps`,
    );
  }
  return ok(
    {
      ...state,
      rollout: { ...r, stepIndex: i + 1, stepStartedAt: now },
      phase: 'Progressing',
    },
    ev(`step ${i + 1}/${steps.length} (${describeStep(step)}) promoted`),
  );
}

/** `abort`: all traffic back to stable at once; the new revision is drained. */
export function abort(state: ServiceState, now: number): CommandResult {
  if (!state.rollout) return noRollout(state);
  // A rolling update has no separate traffic to pull back: the steady-state plan rolls back to stable.
  if (state.rollout.kind === 'rollback') return refuse('unsupported', 'a rollback is already in progress');
  const a = abortRollout(state, now, 'aborted by operator', false);
  return ok(a.state, a.events);
}

/** `pause` / `resume`: freeze or unfreeze the steps (weights and instances stay as they are). */
export function setPaused(state: ServiceState, paused: boolean): CommandResult {
  const r = state.rollout;
  if (!r) return noRollout(state);
  return ok({ ...state, rollout: { ...r, manualPause: paused }, phase: paused ? 'Paused' : 'Progressing' }, [
    {
      service: state.name,
      type: paused ? 'RolloutPaused' : 'RolloutResumed',
      revision: r.to,
      message: paused ? 'paused by operator' : 'resumed by operator',
    },
  ]);
}

/** `retry`: starts the last failed or aborted revision's rollout again from the first step. */
export function retry(spec: ServiceSpec, state: ServiceState, now: number): CommandResult {
  if (state.rollout)
    return refuse(
      'rollout_in_progress',
      `service "${state.name}" is already rolling out revision ${state.rollout.to}`,
    );
  const last = state.lastRollout;
  const rev =
    last && (last.phase === 'Aborted' || last.phase === 'Failed')
      ? state.revisions.find((x) => x.number === (last.kind === 'rollback' ? last.from : last.to))
      : undefined;
  if (!rev || rev.number === state.stable) {
    return refuse('nothing_to_retry', `service "${state.name}" has no failed or aborted rollout to retry`);
  }
  const revisions = state.revisions.map((x) =>
    x.number === rev.number ? { ...x, outcome: 'progressing' as const, message: 'retry' } : x,
  );
  const msg = `retrying revision ${rev.number} (${rev.version})`;
  const next = startRollout(spec, { ...state, revisions }, 'deploy', rev, now, msg);
  return {
    ok: true,
    state: next,
    revision: rev.number,
    events: [{ service: state.name, type: 'RolloutStarted', revision: rev.number, message: msg }],
  };
}

/** `set-weight`: the operator sets the canary's share now; later setWeight steps still apply. */
export function setWeight(spec: ServiceSpec, state: ServiceState, weight: number): CommandResult {
  const r = state.rollout;
  if (spec.strategy.type !== 'canary') {
    return refuse(
      'unsupported',
      `service "${state.name}" uses ${spec.strategy.type}; weights apply to canary rollouts`,
    );
  }
  if (!r) return noRollout(state);
  return ok({ ...state, rollout: { ...r, canaryWeight: weight } }, [
    {
      service: state.name,
      type: 'TrafficChanged',
      revision: r.to,
      message: `canary weight set to ${weight}%`,
    },
  ]);
}

/** `rules`: replaces the traffic rules at runtime (already validated by the caller). */
export function setTraffic(
  spec: ServiceSpec,
  state: ServiceState,
  traffic: TrafficConfig | undefined,
): CommandResult {
  if (spec.strategy.type !== 'canary') {
    return refuse(
      'unsupported',
      `service "${state.name}" uses ${spec.strategy.type}; traffic rules apply to canary releases`,
    );
  }
  return ok({ ...state, traffic }, [
    {
      service: state.name,
      type: 'TrafficChanged',
      message: traffic
        ? `traffic rules replaced (${traffic.rules.length} rules)`
        : 'traffic rules reset to the config file',
    },
  ]);
}

/** `undo` during a blue-green scale-down delay switches back instantly (the old side is still warm). */
export function undoOrSwitchBack(
  spec: ServiceSpec,
  state: ServiceState,
  now: number,
  toRevision?: number,
): CommandResult {
  if (
    spec.strategy.type === 'blueGreen' &&
    state.rollout?.switchedAt !== undefined &&
    toRevision === undefined
  ) {
    const a = abortRollout(state, now, 'undo: switched back to the previous side', false);
    return ok(a.state, a.events);
  }
  return undo(spec, state, now, toRevision);
}
