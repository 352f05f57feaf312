import type { AnalysisState } from '../analysis/run.ts';
import type { TrafficConfig } from '../config/types.ts';
import { describeStep } from './canary.ts';
import { runningDrill, stopDrill } from './drill.ts';
import type { CanaryRollout, CoreEvent, Rollout, ServiceSpec, ServiceState } from './model.ts';
import { abortRollout, withOutcome } from './outcome.ts';
import { analysesOf, blueGreenRollout, canaryRollout } from './rollout.ts';
import { type CommandError, type CommandResult, startRollout, undo } from './service.ts';

const refuse = (code: CommandError['code'], message: string): CommandError => ({ ok: false, code, message });

function ok(state: ServiceState, events: CoreEvent[]): CommandResult {
  return { ok: true, state, revision: state.rollout?.to ?? state.stable, events };
}

function noRollout(state: ServiceState): CommandError {
  return refuse('no_rollout', `service "${state.name}" has no rollout in progress`);
}

/** An analysis that could not decide waits for a human. */
const undecided = (analysis?: AnalysisState) =>
  analysis?.phase === 'Inconclusive' || analysis?.phase === 'Error';

/**
 * `promote`: canary — pass the current pause (`full`: skip every remaining step); blue-green —
 * switch all traffic to the preview side (once it has full size and is ready).
 */
export function promote(spec: ServiceSpec, state: ServiceState, now: number, full: boolean): CommandResult {
  const rollout = state.rollout;
  if (!rollout) return noRollout(state);
  if (rollout.kind === 'drill')
    return refuse('unsupported', 'a drill is never promoted (`cutover abort` ends it)');
  if (rollout.strategy === 'rolling') {
    return refuse(
      'unsupported',
      `service "${state.name}" uses a rolling update, which has no steps to promote`,
    );
  }
  const promoted = (next: Rollout, message: string): CommandResult =>
    ok({ ...state, rollout: next, phase: 'Progressing' }, [
      { service: state.name, type: 'RolloutPromoted', revision: rollout.to, message },
    ]);
  // Promote means "go on anyway" to an analysis that could not decide.
  const { analysis, stepAnalysis } = analysesOf(rollout);
  if (undecided(analysis) || undecided(stepAnalysis)) {
    const accepted = 'undecided analysis accepted by operator';
    const background = undecided(analysis) ? undefined : analysis;
    if (rollout.strategy === 'blueGreen') return promoted({ ...rollout, analysis: background }, accepted);
    const stepDone = undecided(stepAnalysis) && spec.strategy.type === 'canary';
    const next: CanaryRollout = { ...rollout, analysis: background, stepAnalysis: undefined };
    return promoted(
      stepDone ? { ...next, stepIndex: next.stepIndex + 1, stepStartedAt: now } : next,
      accepted,
    );
  }
  if (rollout.strategy === 'blueGreen') {
    if (rollout.switchedAt !== undefined) {
      return refuse(
        'unsupported',
        `revision ${rollout.to} already receives all traffic; it becomes stable after scaleDownDelay`,
      );
    }
    if (full) {
      return promoted(
        { ...rollout, promoteRequested: true, fullPromote: true },
        `switch to revision ${rollout.to} requested (analysis gate skipped)`,
      );
    }
    return promoted({ ...rollout, promoteRequested: true }, `switch to revision ${rollout.to} requested`);
  }
  const steps = spec.strategy.type === 'canary' ? spec.strategy.steps : [];
  const index = rollout.stepIndex;
  if (full) {
    return promoted(
      { ...rollout, fullPromote: true, manualPause: false },
      `full promotion of revision ${rollout.to}: remaining steps skipped`,
    );
  }
  if (rollout.manualPause)
    return refuse(
      'not_paused',
      `the rollout was paused by an operator; use \`cutover resume ${state.name}\``,
    );
  const step = steps[index];
  if (!step || !('pause' in step)) {
    return refuse(
      'not_paused',
      `the rollout is not at a pause (step ${index + 1}/${steps.length}: ${step ? describeStep(step) : 'promotion'}); use --full to skip the remaining steps`,
    );
  }
  return promoted(
    { ...rollout, stepIndex: index + 1, stepStartedAt: now },
    `step ${index + 1}/${steps.length} (${describeStep(step)}) promoted`,
  );
}

/** `abort`: all traffic back to stable at once; the new revision is drained. */
export function abort(state: ServiceState, now: number): CommandResult {
  if (!state.rollout) return noRollout(state);
  // A rolling update has no separate traffic to pull back: the steady-state plan rolls back to stable.
  if (state.rollout.kind === 'rollback') return refuse('unsupported', 'a rollback is already in progress');
  const drill = runningDrill(state);
  if (drill) {
    const stopped = stopDrill(state, drill, now, 'notAborted', 'drill aborted by operator');
    return ok(stopped.state, stopped.events);
  }
  const aborted = abortRollout(state, now, 'aborted by operator', false);
  return ok(aborted.state, aborted.events);
}

/** `pause` / `resume`: freeze or unfreeze the steps (weights and instances stay as they are). */
export function setPaused(state: ServiceState, paused: boolean): CommandResult {
  const rollout = state.rollout;
  if (!rollout) return noRollout(state);
  if (rollout.kind === 'drill')
    return refuse('unsupported', 'a drill runs until its verdict or timeout (`cutover abort` ends it)');
  const next: ServiceState = {
    ...state,
    rollout: { ...rollout, manualPause: paused },
    phase: paused ? 'Paused' : 'Progressing',
  };
  return ok(next, [
    {
      service: state.name,
      type: paused ? 'RolloutPaused' : 'RolloutResumed',
      revision: rollout.to,
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
  // A drill's canary is a copy of stable, not a release to finish: run another drill instead.
  const revision =
    last && last.kind !== 'drill' && (last.phase === 'Aborted' || last.phase === 'Failed')
      ? state.revisions.find(
          (candidate) => candidate.number === (last.kind === 'rollback' ? last.from : last.to),
        )
      : undefined;
  if (!revision || revision.number === state.stable) {
    return refuse('nothing_to_retry', `service "${state.name}" has no failed or aborted rollout to retry`);
  }
  const revisions = withOutcome(state.revisions, revision.number, 'progressing', 'retry');
  const message = `retrying revision ${revision.number} (${revision.version})`;
  const next = startRollout(spec, { ...state, revisions }, 'deploy', revision, now, message);
  return {
    ok: true,
    state: next,
    revision: revision.number,
    events: [{ service: state.name, type: 'RolloutStarted', revision: revision.number, message }],
  };
}

/** `set-weight`: the operator sets the canary's share now; later setWeight steps still apply. */
export function setWeight(spec: ServiceSpec, state: ServiceState, weight: number): CommandResult {
  if (spec.strategy.type !== 'canary') {
    return refuse(
      'unsupported',
      `service "${state.name}" uses ${spec.strategy.type}; weights apply to canary rollouts`,
    );
  }
  const rollout = canaryRollout(state);
  if (!rollout) return noRollout(state);
  return ok({ ...state, rollout: { ...rollout, canaryWeight: weight } }, [
    {
      service: state.name,
      type: 'TrafficChanged',
      revision: rollout.to,
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
    blueGreenRollout(state)?.switchedAt !== undefined &&
    toRevision === undefined
  ) {
    const switchedBack = abortRollout(state, now, 'undo: switched back to the previous side', false);
    return ok(switchedBack.state, switchedBack.events);
  }
  return undo(spec, state, now, toRevision);
}
