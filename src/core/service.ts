import { startAnalysis } from '../analysis/run.ts';
import type { RunSpec } from '../config/types.ts';
import { reconcileBlueGreen } from './bluegreen.ts';
import { reconcileCanary } from './canary.ts';
import { reconcileDrill } from './drill.ts';
import { preRolloutGate } from './gates.ts';
import {
  type Action,
  type CoreEvent,
  findRevision,
  type ObservedInstance,
  type Plan,
  type Revision,
  type Rollout,
  type RolloutCommon,
  type RolloutKind,
  type ServicePhase,
  type ServiceSpec,
  type ServiceState,
} from './model.ts';
import { planRolling, reconcileRolling } from './rolling.ts';
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
  const common: RolloutCommon = {
    kind,
    from: state.stable,
    to: revision.number,
    phase: 'Progressing',
    startedAt: now,
    lastProgressAt: now,
    progressKey: '',
    message,
  };
  // Canary and blue-green are judged by the service's analysis from the start of the rollout.
  const analysis = spec.analysis ? startAnalysis(spec.analysis, now) : undefined;
  let rollout: Rollout;
  if (spec.strategy.type === 'canary') {
    rollout = { ...common, strategy: 'canary', stepIndex: 0, stepStartedAt: now, canaryWeight: 0 };
    if (analysis) rollout.analysis = analysis;
  } else if (spec.strategy.type === 'blueGreen') {
    rollout = { ...common, strategy: 'blueGreen' };
    if (analysis) rollout = { ...rollout, analysis, analysisStage: 'pre' };
  } else {
    rollout = { ...common, strategy: 'rolling' };
  }
  return { ...state, rollout, phase: 'Progressing', message };
}

function nextRevisionNumber(state: ServiceState): number {
  return state.revisions.reduce((highest, revision) => Math.max(highest, revision.number), 0) + 1;
}

/** Keeps the newest `limit` revisions, never dropping the stable or targeted one. */
function pruneHistory(revisions: Revision[], keep: Set<number>, limit: number): Revision[] {
  const newestFirst = [...revisions].sort((a, b) => b.number - a.number);
  return newestFirst
    .filter((revision, index) => index < limit || keep.has(revision.number))
    .sort((a, b) => a.number - b.number);
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
  const rollout = state.rollout;
  if (!rollout) return reconcileSteady(spec, state, instances, now);
  // A drill is a canary whatever the service's strategy (it never becomes stable).
  if (rollout.kind === 'drill' && rollout.strategy === 'canary') {
    return reconcileDrill(spec, state, rollout, instances, now);
  }
  const strategy = spec.strategy;
  const gated = preRolloutGate(spec, state, rollout, now);
  if (gated) return gated;
  if (strategy.type === 'canary' && rollout.strategy === 'canary') {
    return reconcileCanary(spec, strategy, state, rollout, instances, now);
  }
  if (strategy.type === 'blueGreen' && rollout.strategy === 'blueGreen') {
    return reconcileBlueGreen(spec, strategy, state, rollout, instances, now);
  }
  if (strategy.type === 'rolling' && rollout.strategy === 'rolling') {
    return reconcileRolling(spec, strategy, state, rollout, instances, now);
  }
  throw new Error(`rollout of strategy ${rollout.strategy} under ${strategy.type}`);
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
