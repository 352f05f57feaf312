/**
 * `cutover drill`: a fire drill of the way back. A canary of the stable revision (same version and
 * run spec, a new revision marked `drill`) takes a small share of traffic while the gateway injects
 * a fault into its responses only; the service's analysis should take it back. The drill never
 * changes the stable revision, whatever the service's strategy: stable keeps full size all along.
 * Pure: the controller stores and acts on the plans.
 */
import { startAnalysis } from '../analysis/run.ts';
import type { FaultConfig } from '../config/types.ts';
import { withSummary } from './analysis-summary.ts';
import {
  type Action,
  type CanaryRollout,
  type CoreEvent,
  type DrillFault,
  type DrillSetting,
  findRevision,
  type ObservedInstance,
  type Plan,
  type Revision,
  type ServiceSpec,
  type ServiceState,
} from './model.ts';
import { drainOthers, liveOf, readyCount, scaleRevision } from './scale.ts';

export const DRILL_DEFAULTS = { fault: 'errors:5%', weight: 20, timeout: '60s' } as const;

export function describeFault(f: DrillFault): string {
  return f.kind === 'errors'
    ? `errors:${f.percent}%`
    : `latency:${f.ms}ms${f.percent === 100 ? '' : `@${f.percent}%`}`;
}

/** The gateway fault of a drill's canary revision. */
export function drillFaultConfig(f: DrillFault, revision: number): FaultConfig {
  return f.kind === 'errors'
    ? { revision, abort: { status: f.status, percent: f.percent } }
    : { revision, delay: { ms: f.ms, percent: f.percent } };
}

/** The running drill of a service, when there is one. */
export function runningDrill(state: ServiceState | undefined): CanaryRollout | undefined {
  const r = state?.rollout;
  return r?.strategy === 'canary' && r.kind === 'drill' ? r : undefined;
}

/** What startDrill answers (a CommandResult of service.ts). */
export type DrillStart =
  | { ok: true; state: ServiceState; revision: number; events: CoreEvent[] }
  | { ok: false; code: 'rollout_in_progress' | 'unsupported'; message: string };

function refuse(code: 'rollout_in_progress' | 'unsupported', message: string): DrillStart {
  return { ok: false, code, message };
}

/** Starts a drill: a new revision copying the stable one, as a canary with its fault. */
export function startDrill(
  spec: ServiceSpec,
  state: ServiceState,
  setting: DrillSetting,
  now: number,
): DrillStart {
  if (state.rollout) {
    return refuse(
      'rollout_in_progress',
      `service "${state.name}" is rolling out revision ${state.rollout.to}; a drill starts when nothing rolls out`,
    );
  }
  if (!spec.analysis) {
    return refuse(
      'unsupported',
      `service "${state.name}" has no analysis: a drill tests that analysis takes a bad canary back (services.${state.name}.analysis)`,
    );
  }
  const stable = findRevision(state, state.stable);
  if (!stable) return refuse('unsupported', `service "${state.name}" has no stable revision`);
  const number = state.revisions.reduce((n, r) => Math.max(n, r.number), 0) + 1;
  const note = `drill of revision ${stable.number} with ${describeFault(setting.fault)}`;
  const revision: Revision = {
    number,
    version: stable.version,
    run: stable.run,
    createdAt: now,
    outcome: 'progressing',
    message: note,
    drill: true,
  };
  const newestFirst = [...state.revisions, revision].sort((a, b) => b.number - a.number);
  const revisions = newestFirst
    .filter((r, i) => i < spec.revisionHistoryLimit || r.number === state.stable || r.number === number)
    .sort((a, b) => a.number - b.number);
  const rollout: CanaryRollout = {
    kind: 'drill',
    strategy: 'canary',
    from: state.stable,
    to: number,
    phase: 'Progressing',
    startedAt: now,
    lastProgressAt: now,
    progressKey: '',
    message: note,
    stepIndex: 0,
    stepStartedAt: now,
    canaryWeight: 0,
    analysis: startAnalysis(spec.analysis, now),
    drill: { ...setting, outcome: undefined },
  };
  const message = `drill: ${note}; revision ${number} takes ${setting.weight}% of traffic`;
  return {
    ok: true,
    state: { ...state, revisions, rollout, message },
    revision: number,
    events: [{ service: state.name, type: 'DrillStarted', revision: number, message }],
  };
}

/** One reconcile of a running drill: stable at full size, one canary, the verdict or the time limit. */
export function reconcileDrill(
  spec: ServiceSpec,
  state: ServiceState,
  rollout: CanaryRollout,
  instances: ObservedInstance[],
  now: number,
): Plan {
  const drill = rollout.drill!;
  const failed = rollout.analysis?.phase === 'Failed';
  if (failed || now - rollout.startedAt > drill.timeoutMs) {
    return endDrill(spec, state, rollout, instances, now, failed ? 'aborted' : 'notAborted');
  }
  const keep = [state.stable, rollout.to];
  const actions: Action[] = [
    ...scaleRevision(spec.name, instances, state.stable, spec.replicas, 'scale down'),
    ...scaleRevision(spec.name, instances, rollout.to, 1, 'drill canary'),
    ...drainOthers(spec.name, instances, keep, 'not serving'),
  ];
  let next = rollout;
  if (rollout.canaryWeight === 0 && readyCount(instances, rollout.to) > 0) {
    next = {
      ...rollout,
      canaryWeight: drill.weight,
      drill: { ...drill, trafficAt: now },
      lastProgressAt: now,
    };
  }
  const waitingFor =
    next.canaryWeight === 0
      ? 'drill: waiting for the canary to be ready'
      : `drill: waiting for analysis to take the canary back (${describeFault(drill.fault)} injected)`;
  if (next.waitingFor !== waitingFor) next = { ...next, waitingFor };
  return { state: next === rollout ? state : { ...state, rollout: next }, actions, events: [] };
}

function endDrill(
  spec: ServiceSpec,
  state: ServiceState,
  rollout: CanaryRollout,
  instances: ObservedInstance[],
  now: number,
  outcome: 'aborted' | 'notAborted',
): Plan {
  const drill = rollout.drill!;
  const analysis = rollout.analysis;
  const took = ((analysis?.finishedAt ?? now) - rollout.startedAt) / 1000;
  const reason =
    outcome === 'aborted'
      ? `drill passed: analysis took revision ${rollout.to} back after ${took.toFixed(1)}s (${analysis?.message ?? ''})`
      : `drill failed: analysis did not take revision ${rollout.to} back within ${drill.timeoutMs / 1000}s`;
  const ended = stopDrill(state, rollout, now, outcome, reason);
  const drains = liveOf(instances, rollout.to).map(
    (i): Action => ({ type: 'drain', service: spec.name, instance: i.id, reason: 'drill over' }),
  );
  return { ...ended, actions: drains };
}

/**
 * Ends a drill now with `outcome` (an operator's abort: notAborted). Its canary leaves the routes
 * at once; the steady-state plan drains what is left of it.
 */
export function stopDrill(
  state: ServiceState,
  rollout: CanaryRollout,
  now: number,
  outcome: 'aborted' | 'notAborted',
  reason: string,
): { state: ServiceState; events: CoreEvent[] } {
  const finished: CanaryRollout = {
    ...rollout,
    phase: 'Aborted',
    finishedAt: now,
    message: reason,
    waitingFor: undefined,
    canaryWeight: 0,
    drill: { ...rollout.drill!, outcome },
  };
  const revisions = withSummary(
    state.revisions.map((r) =>
      r.number === rollout.to ? { ...r, outcome: 'aborted' as const, message: reason } : r,
    ),
    finished,
    now,
  );
  return {
    state: { ...state, revisions, rollout: undefined, lastRollout: finished, message: reason },
    events: [{ service: state.name, type: 'DrillFinished', revision: rollout.to, message: reason }],
  };
}
