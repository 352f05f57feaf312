import { finishAnalysis, startAnalysis } from '../analysis/run.ts';
import type { CanaryStep, CanaryStrategy } from '../config/types.ts';
import { failRollout, succeedRollout } from './abort.ts';
import { analysisGate, hookGate } from './gates.ts';
import type {
  Action,
  CoreEvent,
  ObservedInstance,
  Plan,
  Rollout,
  ServiceSpec,
  ServiceState,
} from './model.ts';
import { resolveIntOrPercent } from './replicas.ts';
import { drainOthers, readyCount, scaleRevision } from './scale.ts';

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

function advance(
  r: Rollout,
  now: number,
  steps: CanaryStep[],
  service: string,
  events: CoreEvent[],
): Rollout {
  const i = r.stepIndex ?? 0;
  events.push({
    service,
    type: 'StepCompleted',
    revision: r.to,
    message: `step ${i + 1}/${steps.length} (${describeStep(steps[i])}) done`,
  });
  return { ...r, stepIndex: i + 1, stepStartedAt: now, stepAnalysis: undefined };
}

/**
 * One reconcile of a canary rollout: the stable revision keeps full capacity (so abort is
 * instant), the canary runs `canaryReplicas` (following the weight), and the steps advance as
 * far as they can: setWeight waits for enough ready canary instances, pause waits for time or
 * `promote`, mirror applies at once. After the last step the canary is scaled to full size,
 * takes all traffic and becomes the stable revision.
 */
export function reconcileCanary(
  spec: ServiceSpec,
  state: ServiceState,
  instances: ObservedInstance[],
  now: number,
): Plan {
  const strategy = spec.strategy as CanaryStrategy;
  const steps = strategy.steps;
  const R = spec.replicas;
  const r0 = state.rollout!;
  const events: CoreEvent[] = [];
  let r: Rollout = {
    ...r0,
    stepIndex: r0.stepIndex ?? 0,
    stepStartedAt: r0.stepStartedAt ?? r0.startedAt,
    canaryWeight: r0.canaryWeight ?? 0,
  };
  const target = r.to;
  const stable = state.stable;
  const ready = readyCount(instances, target);
  let waitingFor = '';
  let paused = false;
  const hookActions: Action[] = [];

  // A migration or similar must succeed before the new revision runs at all.
  const pre = hookGate(spec, r, 'preRollout', hookActions);
  if (pre.kind === 'fail') return failRollout(state, r, now, pre.reason, events, pre.byAnalysis);
  if (pre.kind === 'wait') {
    r = { ...r, waitingFor: pre.reason };
    return {
      state: { ...state, rollout: r, phase: 'Progressing', message: pre.reason },
      actions: hookActions,
      events,
    };
  }
  // The background analysis judges the canary during the whole rollout.
  const bg = analysisGate(r.analysis);
  if (bg.kind === 'fail') return failRollout(state, r, now, bg.reason, events, bg.byAnalysis);
  if (bg.kind === 'wait') {
    waitingFor = bg.reason;
    paused = true;
  }

  for (let guard = 0; guard <= steps.length && !paused; guard++) {
    if (r.manualPause) {
      waitingFor = 'paused by operator (cutover resume)';
      paused = true;
      break;
    }
    if (r.fullPromote && (r.stepIndex ?? 0) < steps.length) {
      r = { ...r, stepIndex: steps.length, stepStartedAt: now };
    }
    const i = r.stepIndex ?? 0;
    if (i >= steps.length) {
      if (ready < R) {
        waitingFor = `promotion: ${ready}/${R} canary instances ready`;
        break;
      }
      const smoke = hookGate(spec, r, 'prePromotion', hookActions);
      if (smoke.kind === 'fail') return failRollout(state, r, now, smoke.reason, events, smoke.byAnalysis);
      if (smoke.kind === 'wait') {
        waitingFor = smoke.reason;
        break;
      }
      const promoted = { ...state, rollout: { ...r, canaryWeight: 100 } };
      return succeedRollout(spec, promoted, instances, now, events, 'replaced');
    }
    const step = steps[i];
    if ('setWeight' in step) {
      const want = canaryReplicas(strategy, R, step.setWeight);
      if (ready < want) {
        waitingFor = `setWeight ${step.setWeight}: ${ready}/${want} canary instances ready`;
        break;
      }
      r = advance({ ...r, canaryWeight: step.setWeight }, now, steps, spec.name, events);
      continue;
    }
    if ('analysis' in step) {
      const cfg = spec.analysis;
      if (!cfg) {
        r = advance(r, now, steps, spec.name, events);
        continue;
      }
      if (!r.stepAnalysis) r = { ...r, stepAnalysis: startAnalysis(cfg, now) };
      let sa = r.stepAnalysis!;
      if (sa.phase === 'Running' && now - (r.stepStartedAt ?? now) >= step.analysis.durationMs) {
        sa = finishAnalysis(cfg, sa, now);
        r = { ...r, stepAnalysis: sa };
      }
      const g = analysisGate(sa);
      if (g.kind === 'fail') return failRollout(state, r, now, g.reason, events, g.byAnalysis);
      if (g.kind === 'wait') {
        waitingFor = g.reason;
        paused = true;
        break;
      }
      if (sa.phase === 'Successful') {
        r = advance(r, now, steps, spec.name, events);
        continue;
      }
      const left = Math.ceil(((r.stepStartedAt ?? now) + step.analysis.durationMs - now) / 1000);
      waitingFor = `analysis: ${left}s left`;
      break;
    }
    if ('pause' in step) {
      const d = step.pause.durationMs;
      if (d === undefined) {
        waitingFor = 'pause: waiting for promote';
        paused = true;
        break;
      }
      const left = (r.stepStartedAt ?? now) + d - now;
      if (left > 0) {
        waitingFor = `pause: ${Math.ceil(left / 1000)}s left`;
        break;
      }
      r = advance(r, now, steps, spec.name, events);
      continue;
    }
    // Mirroring into a canary that is not ready would only count skipped copies.
    const want = canaryReplicas(strategy, R, r.canaryWeight ?? 0);
    if (step.mirror.percent > 0 && ready < want) {
      waitingFor = `mirror ${step.mirror.percent}%: ${ready}/${want} canary instances ready`;
      break;
    }
    r = advance(
      { ...r, mirror: step.mirror.percent > 0 ? step.mirror : undefined },
      now,
      steps,
      spec.name,
      events,
    );
  }

  const i = r.stepIndex ?? 0;
  const step = steps[i];
  const pendingWeight = step && 'setWeight' in step ? step.setWeight : 0;
  const wantCanary =
    i >= steps.length ? R : canaryReplicas(strategy, R, Math.max(r.canaryWeight ?? 0, pendingWeight));
  const key = `${i}/${ready}`;
  if (key !== r.progressKey) r = { ...r, progressKey: key, lastProgressAt: now };
  if (ready < wantCanary && now - r.lastProgressAt > strategy.progressDeadlineMs) {
    const reason = `canary revision ${target} made no progress for ${Math.round(strategy.progressDeadlineMs / 1000)}s (${ready}/${wantCanary} ready)`;
    return failRollout(state, r, now, reason, events);
  }
  r = { ...r, waitingFor };
  const actions: Action[] = [
    ...scaleRevision(spec.name, instances, stable, R, 'scale down'),
    ...scaleRevision(spec.name, instances, target, wantCanary, 'scale down'),
    ...drainOthers(spec.name, instances, [stable, target], 'not serving'),
    ...hookActions,
  ];
  const phase = paused ? 'Paused' : 'Progressing';
  if (paused && state.phase !== 'Paused') {
    events.push({ service: spec.name, type: 'RolloutPaused', revision: target, message: waitingFor });
  }
  const message = `canary revision ${target} at ${r.canaryWeight}%: ${waitingFor || `step ${i + 1}/${steps.length}`}`;
  return { state: { ...state, rollout: r, phase, message }, actions, events };
}
