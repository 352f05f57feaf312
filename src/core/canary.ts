import { finishAnalysis, startAnalysis } from '../analysis/run.ts';
import type { CanaryStep, CanaryStrategy } from '../config/types.ts';
import { type ReconcileContext, reconcileContext } from './context.ts';
import { analysisGate, hookGate } from './gates.ts';
import type {
  Action,
  CanaryRollout,
  CoreEvent,
  MirrorSetting,
  ObservedInstance,
  Plan,
  ServiceSpec,
  ServiceState,
} from './model.ts';
import { after, failRollout, succeedRollout } from './outcome.ts';
import { resolveIntOrPercent } from './replicas.ts';
import { drainOthers, scaleRevision } from './scale.ts';

/** Canary instances for a weight: the configured base (at least 1), growing with the weight. */
export function canaryReplicas(strategy: CanaryStrategy, replicas: number, weight: number): number {
  const base = Math.max(1, resolveIntOrPercent(strategy.canaryReplicas, replicas, true));
  return Math.min(replicas, Math.max(base, Math.ceil((replicas * weight) / 100)));
}

/** Human description of a step, for events and status. */
export function describeStep(step: CanaryStep): string {
  if ('setWeight' in step) return `setWeight ${step.setWeight}`;
  if ('pause' in step)
    return step.pause.durationMs === undefined ? 'pause' : `pause ${step.pause.durationMs / 1000}s`;
  if ('analysis' in step) return `analysis ${step.analysis.durationMs / 1000}s`;
  return `mirror ${step.mirror.percent}%`;
}

type CanaryContext = ReconcileContext<CanaryStrategy>;

/**
 * What a step handler decided: the step is done (go on to the next), the rollout waits here
 * (`paused`: for a human or a verdict, not just for time or instances), or the rollout ends.
 */
type StepOutcome =
  | { next: 'advance'; rollout: CanaryRollout; events: CoreEvent[] }
  | { next: 'wait'; rollout: CanaryRollout; waitingFor: string; paused: boolean; actions: Action[] }
  | { next: 'end'; plan: Plan };

/** Where the steps stopped in this reconcile. */
interface Hold {
  rollout: CanaryRollout;
  events: CoreEvent[];
  waitingFor: string;
  paused: boolean;
  actions: Action[];
}

function wait(
  rollout: CanaryRollout,
  waitingFor: string,
  paused = false,
  actions: Action[] = [],
): StepOutcome {
  return { next: 'wait', rollout, waitingFor, paused, actions };
}

function end(plan: Plan): StepOutcome {
  return { next: 'end', plan };
}

/** The current step is done: on to the next one, with a fresh step clock and no step analysis. */
function advance(context: CanaryContext, rollout: CanaryRollout): StepOutcome {
  const steps = context.strategy.steps;
  const index = rollout.stepIndex;
  return {
    next: 'advance',
    rollout: { ...rollout, stepIndex: index + 1, stepStartedAt: context.now, stepAnalysis: undefined },
    events: [
      {
        service: context.spec.name,
        type: 'StepCompleted',
        revision: rollout.to,
        message: `step ${index + 1}/${steps.length} (${describeStep(steps[index])}) done`,
      },
    ],
  };
}

/** setWeight: the weight applies once enough canary instances for it are ready. */
function setWeightStep(context: CanaryContext, rollout: CanaryRollout, weight: number): StepOutcome {
  const want = canaryReplicas(context.strategy, context.spec.replicas, weight);
  if (context.ready < want) {
    return wait(rollout, `setWeight ${weight}: ${context.ready}/${want} canary instances ready`);
  }
  return advance(context, { ...rollout, canaryWeight: weight });
}

/** analysis: the step's own analysis runs for its duration; its verdict passes, pauses or fails. */
function analysisStep(context: CanaryContext, rollout: CanaryRollout, durationMs: number): StepOutcome {
  const { spec, state, now } = context;
  const config = spec.analysis;
  if (!config) return advance(context, rollout);
  let judged = rollout.stepAnalysis ?? startAnalysis(config, now);
  if (judged.phase === 'Running' && now - rollout.stepStartedAt >= durationMs) {
    judged = finishAnalysis(config, judged, now);
  }
  const current: CanaryRollout =
    judged === rollout.stepAnalysis ? rollout : { ...rollout, stepAnalysis: judged };
  const gate = analysisGate(judged);
  if (gate.kind === 'fail') {
    return end(failRollout(state, current, now, gate.reason, { byAnalysis: gate.byAnalysis }));
  }
  if (gate.kind === 'wait') return wait(current, gate.reason, true);
  if (judged.phase === 'Successful') return advance(context, current);
  const left = Math.ceil((current.stepStartedAt + durationMs - now) / 1000);
  return wait(current, `analysis: ${left}s left`);
}

/** pause: for a duration, or (none given) until `promote`. */
function pauseStep(
  context: CanaryContext,
  rollout: CanaryRollout,
  durationMs: number | undefined,
): StepOutcome {
  if (durationMs === undefined) {
    // In a fleet the leader holds an untimed pause for every host; letting the hosts past it is its promote.
    const released = rollout.fleetStep !== undefined && rollout.stepIndex + 1 < rollout.fleetStep;
    if (released) return advance(context, rollout);
    return wait(rollout, 'pause: waiting for promote', true);
  }
  const left = rollout.stepStartedAt + durationMs - context.now;
  if (left > 0) return wait(rollout, `pause: ${Math.ceil(left / 1000)}s left`);
  return advance(context, rollout);
}

/** mirror: applies at once; mirroring into a canary that is not ready would only count skipped copies. */
function mirrorStep(context: CanaryContext, rollout: CanaryRollout, mirror: MirrorSetting): StepOutcome {
  const want = canaryReplicas(context.strategy, context.spec.replicas, rollout.canaryWeight);
  if (mirror.percent > 0 && context.ready < want) {
    return wait(rollout, `mirror ${mirror.percent}%: ${context.ready}/${want} canary instances ready`);
  }
  return advance(context, { ...rollout, mirror: mirror.percent > 0 ? mirror : undefined });
}

/** After the last step: the canary at full size passes prePromotion, takes all traffic and becomes stable. */
function promotion(context: CanaryContext, rollout: CanaryRollout): StepOutcome {
  const { spec, state, instances, now, ready } = context;
  if (ready < spec.replicas) {
    return wait(rollout, `promotion: ${ready}/${spec.replicas} canary instances ready`);
  }
  const smoke = hookGate(spec, rollout, 'prePromotion');
  if (smoke.kind === 'fail') {
    return end(failRollout(state, rollout, now, smoke.reason, { byAnalysis: smoke.byAnalysis }));
  }
  if (smoke.kind === 'wait') return wait(rollout, smoke.reason, false, smoke.actions);
  return end(succeedRollout(spec, state, { ...rollout, canaryWeight: 100 }, instances, now, 'replaced'));
}

/** One step handler for the rollout where it is now. */
function runStep(context: CanaryContext, rollout: CanaryRollout): StepOutcome {
  const steps = context.strategy.steps;
  if (rollout.manualPause) return wait(rollout, 'paused by operator (cutover resume)', true);
  const current: CanaryRollout =
    rollout.fullPromote && rollout.stepIndex < steps.length
      ? { ...rollout, stepIndex: steps.length, stepStartedAt: context.now }
      : rollout;
  if (current.fleetStep !== undefined && current.stepIndex >= current.fleetStep) {
    const what =
      current.stepIndex >= steps.length ? 'promotion' : `step ${current.stepIndex + 1}/${steps.length}`;
    return wait(current, `${what}: waiting for the fleet's other hosts`);
  }
  if (current.stepIndex >= steps.length) return promotion(context, current);
  const step = steps[current.stepIndex];
  if ('setWeight' in step) return setWeightStep(context, current, step.setWeight);
  if ('analysis' in step) return analysisStep(context, current, step.analysis.durationMs);
  if ('pause' in step) return pauseStep(context, current, step.pause.durationMs);
  return mirrorStep(context, current, step.mirror);
}

/** Runs the steps as far as they go in this reconcile. */
function walkSteps(context: CanaryContext, start: CanaryRollout): Hold | Plan {
  const events: CoreEvent[] = [];
  let rollout = start;
  for (let guard = 0; guard <= context.strategy.steps.length; guard++) {
    const outcome = runStep(context, rollout);
    if (outcome.next === 'end') return after(events, outcome.plan);
    rollout = outcome.rollout;
    if (outcome.next === 'wait') {
      const { waitingFor, paused, actions } = outcome;
      return { rollout, events, waitingFor, paused, actions };
    }
    events.push(...outcome.events);
  }
  return { rollout, events, waitingFor: '', paused: false, actions: [] };
}

/**
 * One reconcile of a canary rollout (the preRollout gate is passed): the stable revision keeps
 * full capacity (so abort is instant), the canary runs `canaryReplicas` (following the weight),
 * and the steps advance as far as they can: setWeight waits for enough ready canary instances,
 * pause waits for time or `promote`, mirror applies at once. After the last step the canary is
 * scaled to full size, takes all traffic and becomes the stable revision.
 */
export function reconcileCanary(
  spec: ServiceSpec,
  strategy: CanaryStrategy,
  state: ServiceState,
  rollout: CanaryRollout,
  instances: ObservedInstance[],
  now: number,
): Plan {
  const context = reconcileContext(spec, strategy, state, rollout.to, instances, now);
  // The background analysis judges the canary during the whole rollout.
  const background = analysisGate(rollout.analysis);
  if (background.kind === 'fail') {
    return failRollout(state, rollout, now, background.reason, { byAnalysis: background.byAnalysis });
  }
  const walked: Hold | Plan =
    background.kind === 'wait'
      ? { rollout, events: [], waitingFor: background.reason, paused: true, actions: [] }
      : walkSteps(context, rollout);
  if ('state' in walked) return walked;
  return holdPlan(context, walked);
}

/** The plan while the rollout holds at a step: both revisions at their size, progress watched. */
function holdPlan(context: CanaryContext, hold: Hold): Plan {
  const { spec, strategy, state, instances, now, ready } = context;
  const steps = strategy.steps;
  const replicas = spec.replicas;
  const index = hold.rollout.stepIndex;
  const step = steps[index];
  const pendingWeight = step && 'setWeight' in step ? step.setWeight : 0;
  const wantCanary =
    index >= steps.length
      ? replicas
      : canaryReplicas(strategy, replicas, Math.max(hold.rollout.canaryWeight, pendingWeight));
  const key = `${index}/${ready}`;
  const moved: CanaryRollout =
    key === hold.rollout.progressKey
      ? hold.rollout
      : { ...hold.rollout, progressKey: key, lastProgressAt: now };
  const target = moved.to;
  if (ready < wantCanary && now - moved.lastProgressAt > strategy.progressDeadlineMs) {
    const reason = `canary revision ${target} made no progress for ${Math.round(strategy.progressDeadlineMs / 1000)}s (${ready}/${wantCanary} ready)`;
    return after(hold.events, failRollout(state, moved, now, reason));
  }
  const rollout: CanaryRollout = { ...moved, waitingFor: hold.waitingFor };
  const actions: Action[] = [
    ...scaleRevision(spec.name, instances, state.stable, replicas, 'scale down'),
    ...scaleRevision(spec.name, instances, target, wantCanary, 'scale down'),
    ...drainOthers(spec.name, instances, [state.stable, target], 'not serving'),
    ...hold.actions,
  ];
  const pausedNow: CoreEvent[] =
    hold.paused && state.phase !== 'Paused'
      ? [{ service: spec.name, type: 'RolloutPaused', revision: target, message: hold.waitingFor }]
      : [];
  const message = `canary revision ${target} at ${rollout.canaryWeight}%: ${hold.waitingFor || `step ${index + 1}/${steps.length}`}`;
  return {
    state: { ...state, rollout, phase: hold.paused ? 'Paused' : 'Progressing', message },
    actions,
    events: [...hold.events, ...pausedNow],
  };
}
