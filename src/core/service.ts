import { startAnalysis } from '../analysis/run.ts';
import type { RollingStrategy, RunSpec } from '../config/types.ts';
import { failRollout } from './abort.ts';
import { reconcileBlueGreen } from './bluegreen.ts';
import { reconcileCanary } from './canary.ts';
import { hookGate } from './gates.ts';
import {
  type Action,
  type CoreEvent,
  findRevision,
  type ObservedInstance,
  type Plan,
  type Revision,
  type Rollout,
  type RolloutKind,
  type ServicePhase,
  type ServiceSpec,
  type ServiceState,
} from './model.ts';
import { planRolling } from './rolling.ts';
import { drainOthers, readyCount, scaleRevision } from './scale.ts';

/** A new service's state: revision 1 from the config, stable from the start (it has nothing to replace). */
export function initialServiceState(name: string, version: string, run: RunSpec, now: number): ServiceState {
  return {
    name,
    revisions: [{ number: 1, version, run, createdAt: now, outcome: 'stable' }],
    stable: 1,
    phase: 'Progressing',
    message: 'starting revision 1',
  };
}

/** Refusal of a command, with a message for the operator. */
export interface CommandError {
  ok: false;
  code:
    | 'rollout_in_progress'
    | 'no_such_revision'
    | 'nothing_to_undo'
    | 'no_rollout'
    | 'not_paused'
    | 'unsupported'
    | 'nothing_to_retry';
  message: string;
}
export type CommandResult =
  | { ok: true; state: ServiceState; revision: number; events: CoreEvent[] }
  | CommandError;

/** Starts a rollout of `revision` (write-ahead: the caller persists before acting). */
export function startRollout(
  spec: ServiceSpec,
  state: ServiceState,
  kind: RolloutKind,
  revision: Revision,
  now: number,
  message: string,
): ServiceState {
  const canary = spec.strategy.type === 'canary' ? { stepIndex: 0, stepStartedAt: now, canaryWeight: 0 } : {};
  // Canary and blue-green are judged by the service's analysis from the start of the rollout.
  const judged =
    spec.analysis && spec.strategy.type !== 'rolling'
      ? { analysis: startAnalysis(spec.analysis, now), analysisStage: 'pre' as const }
      : {};
  const rollout: Rollout = {
    ...canary,
    ...judged,
    kind,
    from: state.stable,
    to: revision.number,
    phase: 'Progressing',
    startedAt: now,
    lastProgressAt: now,
    progressKey: '',
    message,
  };
  return { ...state, rollout, phase: 'Progressing', message };
}

function nextRevisionNumber(state: ServiceState): number {
  return state.revisions.reduce((m, r) => Math.max(m, r.number), 0) + 1;
}

/** Keeps the newest `limit` revisions, never dropping the stable or targeted one. */
function pruneHistory(revisions: Revision[], keep: Set<number>, limit: number): Revision[] {
  const sorted = [...revisions].sort((a, b) => b.number - a.number);
  return sorted.filter((r, i) => i < limit || keep.has(r.number)).sort((a, b) => a.number - b.number);
}

/**
 * `deploy`: creates revision N+1 (version + run spec) and starts a rollout to it.
 * One rollout per service at a time: refused while one is in progress.
 */
export function deploy(
  spec: ServiceSpec,
  state: ServiceState,
  version: string,
  run: RunSpec,
  now: number,
  kind: RolloutKind = 'deploy',
  note?: string,
): CommandResult {
  if (state.rollout) {
    return {
      ok: false,
      code: 'rollout_in_progress',
      message: `service "${state.name}" is already rolling out revision ${state.rollout.to}; wait for it to finish (cutover status ${state.name} --watch)`,
    };
  }
  const number = nextRevisionNumber(state);
  const revision: Revision = { number, version, run, createdAt: now, outcome: 'progressing', message: note };
  const revisions = pruneHistory(
    [...state.revisions, revision],
    new Set([state.stable, number]),
    spec.revisionHistoryLimit,
  );
  const msg = `rolling out revision ${number} (${version})${note ? `, ${note}` : ''}`;
  const next = startRollout(spec, { ...state, revisions }, kind, revision, now, msg);
  return {
    ok: true,
    state: next,
    revision: number,
    events: [{ service: state.name, type: 'RolloutStarted', revision: number, message: msg }],
  };
}

/** `undo`: rolls out the previous stable revision (or `toRevision`) again, as a new revision. */
export function undo(
  spec: ServiceSpec,
  state: ServiceState,
  now: number,
  toRevision?: number,
): CommandResult {
  let source: Revision | undefined;
  if (toRevision !== undefined) {
    source = findRevision(state, toRevision);
    if (!source) {
      const have = state.revisions.map((r) => r.number).join(', ');
      return {
        ok: false,
        code: 'no_such_revision',
        message: `service "${state.name}" has no revision ${toRevision} (history: ${have})`,
      };
    }
  } else {
    source = [...state.revisions]
      .reverse()
      .find((r) => r.number < state.stable && (r.outcome === 'superseded' || r.outcome === 'stable'));
    if (!source) {
      return {
        ok: false,
        code: 'nothing_to_undo',
        message: `service "${state.name}" has no earlier good revision than ${state.stable}`,
      };
    }
  }
  return deploy(spec, state, source.version, source.run, now, 'undo', `undo to revision ${source.number}`);
}

function setOutcome(
  revisions: Revision[],
  n: number,
  outcome: Revision['outcome'],
  message?: string,
): Revision[] {
  return revisions.map((r) => (r.number === n ? { ...r, outcome, message: message ?? r.message } : r));
}

/**
 * One reconcile of a service: plans instance starts/drains toward the target revision and moves
 * the rollout along (progress, success, failure at progressDeadline -> automatic rollback).
 * Pure: same inputs, same plan.
 */
export function reconcileService(
  spec: ServiceSpec,
  state: ServiceState,
  instances: ObservedInstance[],
  now: number,
): Plan {
  if (!state.rollout) return reconcileSteady(spec, state, instances, now);
  if (spec.strategy.type === 'canary') return reconcileCanary(spec, state, instances, now);
  if (spec.strategy.type === 'blueGreen') return reconcileBlueGreen(spec, state, instances, now);
  return reconcileRolling(spec, spec.strategy, state, instances, now);
}

/** No rollout: keep the stable revision at full size, remove anything else. */
function reconcileSteady(
  spec: ServiceSpec,
  state: ServiceState,
  instances: ObservedInstance[],
  now: number,
): Plan {
  let actions: Action[];
  let complete: boolean;
  if (spec.strategy.type === 'rolling') {
    const step = planRolling({
      service: spec.name,
      replicas: spec.replicas,
      strategy: spec.strategy,
      target: state.stable,
      instances,
      now,
    });
    actions = step.actions;
    complete = step.complete;
  } else {
    actions = [
      ...scaleRevision(spec.name, instances, state.stable, spec.replicas, 'scale down'),
      ...drainOthers(spec.name, instances, [state.stable], 'not serving'),
    ];
    complete =
      actions.length === 0 &&
      readyCount(instances, state.stable) === spec.replicas &&
      instances.every((i) => i.revision === state.stable && i.state !== 'draining');
  }
  // A failed or aborted rollout stays visible until a rollout succeeds again.
  const sticky = state.phase === 'Degraded' || state.phase === 'Aborted';
  const phase: ServicePhase = sticky ? state.phase : complete ? 'Healthy' : 'Progressing';
  const message = complete && !sticky ? undefined : state.message;
  const next = phase === state.phase && message === state.message ? state : { ...state, phase, message };
  return { state: next, actions, events: [] };
}

/** A rolling rollout: Kubernetes-style surge/unavailable steps, automatic rollback at progressDeadline. */
function reconcileRolling(
  spec: ServiceSpec,
  strategy: RollingStrategy,
  state: ServiceState,
  instances: ObservedInstance[],
  now: number,
): Plan {
  const rollout = state.rollout!;
  if (rollout.kind !== 'rollback') {
    const hookActions: Action[] = [];
    const pre = hookGate(spec, rollout, 'preRollout', hookActions);
    if (pre.kind === 'fail') return failRollout(state, rollout, now, pre.reason, []);
    if (pre.kind === 'wait') {
      const r = { ...rollout, waitingFor: pre.reason, lastProgressAt: now };
      return { state: { ...state, rollout: r, message: pre.reason }, actions: hookActions, events: [] };
    }
  }
  const step = planRolling({
    service: spec.name,
    replicas: spec.replicas,
    strategy,
    target: rollout.to,
    instances,
    now,
  });
  const events: CoreEvent[] = [];

  const c = step.counts;
  const key = `${c.current}/${c.available}/${c.old}/${c.draining}`;
  let r: Rollout = rollout;
  if (key !== rollout.progressKey) r = { ...rollout, progressKey: key, lastProgressAt: now };

  if (step.complete) {
    const done: Rollout = { ...r, phase: 'Succeeded', finishedAt: now };
    // After a rollback the stable revision stays what it was; the failed one is already marked.
    const revisions =
      r.kind === 'rollback'
        ? state.revisions
        : setOutcome(setOutcome(state.revisions, state.stable, 'superseded'), r.to, 'stable');
    const message =
      r.kind === 'rollback'
        ? `rolled back to revision ${r.to}: ${rollout.message ?? ''}`.trim()
        : `revision ${r.to} is stable`;
    events.push({ service: spec.name, type: 'RolloutSucceeded', revision: r.to, message });
    const next: ServiceState = {
      ...state,
      revisions,
      stable: r.to,
      rollout: undefined,
      lastRollout: done,
      phase: r.kind === 'rollback' ? 'Degraded' : 'Healthy',
      message,
    };
    return { state: next, actions: step.actions, events };
  }

  const deadline = strategy.progressDeadlineMs;
  if (now - r.lastProgressAt > deadline) {
    const reason = `revision ${r.to} made no progress for ${Math.round(deadline / 1000)}s (${c.available}/${spec.replicas} available)`;
    const failed: Rollout = { ...r, phase: 'Failed', finishedAt: now, message: reason };
    events.push({ service: spec.name, type: 'RolloutFailed', revision: r.to, message: reason });
    const revisions = setOutcome(state.revisions, r.to, 'failed', reason);
    if (r.kind !== 'rollback' && r.from !== undefined && r.from !== r.to) {
      // Go back to the revision that was serving; the old instances never stopped serving.
      const back: Rollout = {
        kind: 'rollback',
        from: r.to,
        to: r.from,
        phase: 'Progressing',
        startedAt: now,
        lastProgressAt: now,
        progressKey: '',
        message: reason,
      };
      events.push({
        service: spec.name,
        type: 'RollbackStarted',
        revision: r.from,
        message: `rolling back to revision ${r.from}`,
      });
      const next: ServiceState = {
        ...state,
        revisions,
        rollout: back,
        lastRollout: failed,
        phase: 'Progressing',
        message: `rolling back to revision ${r.from}: ${reason}`,
      };
      // Re-plan toward the stable revision right away rather than one tick later.
      const again = planRolling({
        service: spec.name,
        replicas: spec.replicas,
        strategy,
        target: r.from,
        instances,
        now,
      });
      return { state: next, actions: again.actions, events };
    }
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

  const next = r === rollout ? state : { ...state, rollout: r };
  return { state: next, actions: step.actions, events };
}
