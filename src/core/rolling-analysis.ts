import { finishAnalysis, startAnalysis } from '../analysis/run.ts';
import type { RollingStrategy } from '../config/types.ts';
import { foldBatch } from './analysis-summary.ts';
import { analysisGate, promotionGate } from './gates.ts';
import type { Action, ObservedInstance, RollingRollout, ServiceSpec } from './model.ts';
import { rollingBudget } from './replicas.ts';

/** What the analysis of a rolling update means for this reconcile. */
export type RollingGate =
  | { kind: 'fail'; reason: string; rollout: RollingRollout }
  | {
      kind: 'go';
      rollout: RollingRollout;
      /** Most new instances allowed now (none: no limit). */
      cap?: number;
      /** Set while the rollout holds for a verdict (progress is not expected meanwhile). */
      waitingFor?: string;
      /** Held for a human (Inconclusive / Error). */
      paused?: boolean;
    };

/** Instances one batch replaces: what the surge and unavailable budgets let move at once. */
export function batchSize(strategy: RollingStrategy, replicas: number): number {
  const budget = rollingBudget(strategy.maxSurge, strategy.maxUnavailable, replicas);
  return Math.max(1, budget.maxSurge + budget.maxUnavailable);
}

/** The new revision's place in the rollout, as counted by planRolling. */
export interface BatchCounts {
  current: number;
  available: number;
  old: number;
}

/**
 * The analysis gate of a rolling update. background: one analysis over the whole rollout, it
 * holds nothing until it fails. everyBatch: once the instances cleared so far are in place and
 * old ones still serve beside them, an analysis judges them; a pass clears the next batch. A
 * verdict that does not come within progressDeadline is asked for on what was seen (Successful,
 * Inconclusive or Failed). A rollback is not judged: it returns to a revision that ran.
 */
export function gateRolling(
  spec: ServiceSpec,
  strategy: RollingStrategy,
  rollout: RollingRollout,
  counts: BatchCounts,
  now: number,
): RollingGate {
  const config = spec.analysis;
  if (!config || rollout.kind === 'rollback') return { kind: 'go', rollout };
  let judged = rollout.analysis;
  if (
    judged?.phase === 'Running' &&
    now - judged.startedAt > strategy.progressDeadlineMs &&
    (config.gate ?? 'everyBatch') === 'everyBatch'
  ) {
    judged = finishAnalysis(config, judged, now);
  }
  const current: RollingRollout = judged === rollout.analysis ? rollout : { ...rollout, analysis: judged };
  const gate = analysisGate(judged);
  if (gate.kind === 'fail') return { kind: 'fail', reason: gate.reason, rollout: current };
  const hold = (waitingFor: string, paused = false): RollingGate => ({
    kind: 'go',
    rollout: current,
    cap: counts.current,
    waitingFor,
    paused,
  });
  if (gate.kind === 'wait') return hold(gate.reason, true);
  if (config.gate === 'background') {
    if (judged) return { kind: 'go', rollout: current };
    return { kind: 'go', rollout: { ...current, analysis: startAnalysis(config, now) } };
  }
  const batch = batchSize(strategy, spec.replicas);
  const cleared = current.cleared ?? batch;
  // The last batch leaves no old instance to compare with: it goes through.
  if (cleared >= spec.replicas) return { kind: 'go', rollout: current };
  const inPlace = counts.current >= cleared && counts.available >= cleared && counts.old > 0;
  if (!inPlace) return { kind: 'go', rollout: current, cap: cleared };
  if (!judged) {
    const started = { ...current, analysis: startAnalysis(config, now), cleared };
    return { ...hold(`analysis: judging ${cleared} new instance(s)`), rollout: started };
  }
  if (promotionGate(config, judged).kind === 'open') {
    const next = Math.min(spec.replicas, cleared + batch);
    const passed = {
      ...current,
      analysis: undefined,
      cleared: next,
      judged: foldBatch(config, current.judged, judged, now),
    };
    return { kind: 'go', rollout: passed, cap: next };
  }
  return hold(`analysis: waiting for a verdict on ${cleared} new instance(s)`);
}

/**
 * Going back after a Failed verdict: every instance of the failed revision is drained now (traffic
 * stays on the old instances still running) and the old revision is started up to full size.
 */
export function rollBackNow(
  service: string,
  replicas: number,
  failed: number,
  previous: number,
  instances: ObservedInstance[],
): Action[] {
  const live = instances.filter((i) => i.state !== 'draining');
  const actions: Action[] = live
    .filter((i) => i.revision === failed)
    .map((i) => ({ type: 'drain', service, instance: i.id, reason: 'rolled back by analysis' }));
  const old = live.filter((i) => i.revision === previous).length;
  if (old < replicas) actions.push({ type: 'start', service, revision: previous, count: replicas - old });
  return actions;
}
