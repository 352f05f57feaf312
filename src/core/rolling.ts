import type { RollingStrategy } from '../config/types.ts';
import type { Action, ObservedInstance, Plan, RollingRollout, ServiceSpec, ServiceState } from './model.ts';
import { failRollout, succeedRollout } from './outcome.ts';
import { rollingBudget } from './replicas.ts';
import { gateRolling, rollBackNow } from './rolling-analysis.ts';
import { byRemovalPreference } from './scale.ts';

/** Input of one rolling step for one service. */
export interface RollingInput {
  service: string;
  replicas: number;
  strategy: RollingStrategy;
  /** The revision to converge to; instances of any other revision are "old". */
  target: number;
  instances: ObservedInstance[];
  now: number;
  /** Never more live instances of the target than this (a rolling analysis holds the next batch). */
  maxCurrent?: number;
}

/** Counts the rollout's progress and completion are judged on. */
export interface RollingCounts {
  /** Live (not draining) instances of the target revision. */
  current: number;
  /** ... of which available (ready for minReadySeconds). */
  available: number;
  /** Live instances of other revisions. */
  old: number;
  draining: number;
}

export interface RollingStep {
  actions: Action[];
  counts: RollingCounts;
  /** Target at full count and available, nothing old left, nothing draining. */
  complete: boolean;
}

/** Ready for at least minReadySeconds (Kubernetes "available"). */
export function isAvailable(instance: ObservedInstance, minReadySeconds: number, now: number): boolean {
  return (
    instance.state === 'ready' &&
    instance.readySince !== undefined &&
    now - instance.readySince >= minReadySeconds * 1000
  );
}

/**
 * One step of a rolling update with Kubernetes semantics: never more than replicas + maxSurge live
 * instances, never fewer than replicas - maxUnavailable available ones, unavailable old instances
 * go first. Idempotent: planning again on the same observation yields the same actions, and
 * actions already applied show up in the next observation (starting / draining instances).
 */
export function planRolling(input: RollingInput): RollingStep {
  const { service, replicas, strategy, target, instances, now } = input;
  const want = Math.min(replicas, input.maxCurrent ?? replicas);
  const { maxSurge, maxUnavailable } = rollingBudget(strategy.maxSurge, strategy.maxUnavailable, replicas);
  const live = instances.filter((i) => i.state !== 'draining');
  const draining = instances.length - live.length;
  const current = live.filter((i) => i.revision === target);
  const old = live.filter((i) => i.revision !== target);
  const available = (i: ObservedInstance) => isAvailable(i, strategy.minReadySeconds, now);
  const currentAvailable = current.filter(available).length;
  const actions: Action[] = [];
  const drain = (list: ObservedInstance[], n: number, reason: string) => {
    for (const i of [...list].sort(byRemovalPreference).slice(0, Math.max(0, n))) {
      actions.push({ type: 'drain', service, instance: i.id, reason });
    }
  };

  // Scale the target revision up within the surge budget, or down if there are too many.
  if (current.length < want) {
    const n = Math.min(want - current.length, replicas + maxSurge - live.length);
    if (n > 0) actions.push({ type: 'start', service, revision: target, count: n });
  } else if (current.length > replicas) {
    drain(current, current.length - replicas, 'scale down');
  }

  // Scale old revisions down as far as availability allows.
  if (old.length > 0) {
    const minAvailable = replicas - maxUnavailable;
    const currentUnavailable = current.length - currentAvailable;
    let budget = live.length - minAvailable - currentUnavailable;
    const oldUnavailable = old.filter((i) => !available(i));
    const oldAvailable = old.filter(available);
    if (budget > 0 && oldUnavailable.length > 0) {
      const n = Math.min(budget, oldUnavailable.length);
      drain(oldUnavailable, n, 'replaced (unavailable)');
      budget -= n;
    }
    const canLose = currentAvailable + oldAvailable.length - minAvailable;
    const n = Math.min(budget, canLose, oldAvailable.length);
    if (n > 0) drain(oldAvailable, n, 'replaced');
  }

  const counts: RollingCounts = {
    current: current.length,
    available: currentAvailable,
    old: old.length,
    draining,
  };
  const complete =
    current.length === replicas && currentAvailable === replicas && old.length === 0 && draining === 0;
  return { actions, counts, complete };
}

/**
 * One reconcile of a rolling rollout (the preRollout gate is passed): Kubernetes-style
 * surge/unavailable steps toward the new revision; success when it is complete, and at
 * progressDeadline without progress a rollback to the revision that was serving.
 */
export function reconcileRolling(
  spec: ServiceSpec,
  strategy: RollingStrategy,
  state: ServiceState,
  rollout: RollingRollout,
  instances: ObservedInstance[],
  now: number,
): Plan {
  const toward = (target: number, maxCurrent?: number) =>
    planRolling({
      service: spec.name,
      replicas: spec.replicas,
      strategy,
      target,
      instances,
      now,
      maxCurrent,
    });
  const counts = toward(rollout.to).counts;
  const gate = gateRolling(spec, strategy, rollout, counts, now);
  if (gate.kind === 'fail') {
    const failed = failRollout(state, gate.rollout, now, gate.reason, { rollBack: true, byAnalysis: true });
    const back = failed.state.rollout;
    if (!back) return failed;
    return { ...failed, actions: rollBackNow(spec.name, spec.replicas, rollout.to, back.to, instances) };
  }
  const step = toward(rollout.to, gate.cap);
  const key = `${counts.current}/${counts.available}/${counts.old}/${counts.draining}`;
  const judged = gate.rollout;
  // Waiting for a verdict is not a lack of progress of the new revision.
  const moved: RollingRollout =
    gate.waitingFor !== undefined
      ? { ...judged, progressKey: key, lastProgressAt: now, waitingFor: gate.waitingFor }
      : key === judged.progressKey
        ? judged
        : { ...judged, progressKey: key, lastProgressAt: now };

  if (step.complete) return succeedRollout(spec, state, moved, instances, now, 'replaced');

  const deadline = strategy.progressDeadlineMs;
  if (now - moved.lastProgressAt > deadline) {
    const reason = `revision ${moved.to} made no progress for ${Math.round(deadline / 1000)}s (${counts.available}/${spec.replicas} available)`;
    const failed = failRollout(state, moved, now, reason, { rollBack: true });
    // Re-plan toward the revision that was serving right away rather than one tick later.
    const back = failed.state.rollout;
    return back ? { ...failed, actions: toward(back.to).actions } : failed;
  }

  if (moved === rollout) return { state, actions: step.actions, events: [] };
  const next: ServiceState = { ...state, rollout: moved };
  if (gate.waitingFor !== undefined) next.message = `revision ${moved.to}: ${gate.waitingFor}`;
  return { state: next, actions: step.actions, events: [] };
}
