import type { RunSpec } from '../config/types.ts';
import {
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
  targetRevision,
} from './model.ts';
import { planRolling } from './rolling.ts';

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
  code: 'rollout_in_progress' | 'no_such_revision' | 'nothing_to_undo';
  message: string;
}
export type CommandResult =
  | { ok: true; state: ServiceState; revision: number; events: CoreEvent[] }
  | CommandError;

function startRollout(
  state: ServiceState,
  kind: RolloutKind,
  revision: Revision,
  now: number,
  message: string,
): ServiceState {
  const rollout: Rollout = {
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
  const next = startRollout({ ...state, revisions }, kind, revision, now, msg);
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
  const step = planRolling({
    service: spec.name,
    replicas: spec.replicas,
    strategy: spec.strategy,
    target: targetRevision(state),
    instances,
    now,
  });
  const events: CoreEvent[] = [];
  const rollout = state.rollout;
  if (!rollout) {
    // A service stays Degraded after a failed rollout until a rollout succeeds again.
    const degraded = state.phase === 'Degraded';
    const phase: ServicePhase = degraded ? 'Degraded' : step.complete ? 'Healthy' : 'Progressing';
    const message = step.complete && !degraded ? undefined : state.message;
    const next = phase === state.phase && message === state.message ? state : { ...state, phase, message };
    return { state: next, actions: step.actions, events };
  }

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

  const deadline = spec.strategy.progressDeadlineMs;
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
        strategy: spec.strategy,
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
