/**
 * A host's side of the fleet, as pure functions: what the host's controller does about its
 * assignment, and what it reports back. The host acts once per assignment generation, so a
 * local rollout that failed is reported (and the leader rolls the fleet back) instead of tried
 * again and again.
 */
import { findRevision, type ServiceState } from '../model.ts';
import type { Assignment, FleetTarget, HostServiceReport } from './model.ts';
import { sameTarget } from './model.ts';

export type HostAction =
  | { type: 'none' }
  | { type: 'deploy'; target: FleetTarget }
  | { type: 'abort' }
  | { type: 'promote'; full: boolean }
  /** Canary: take the fleet's step limit (also right after a deploy, before any step runs). */
  | { type: 'fleetStep'; step: number };

function targetOf(state: ServiceState, revision: number): FleetTarget | undefined {
  const r = findRevision(state, revision);
  return r ? { version: r.version, run: r.run } : undefined;
}

/** `actedOn`: the generation this host last started a local rollout for (0: none). */
export function followAssignment(a: Assignment, state: ServiceState, actedOn: number): HostAction {
  if (state.rollout) {
    const r = state.rollout;
    const to = targetOf(state, r.to);
    // A local rollout to something else than assigned (a rollback, a newer assignment) ends first.
    if (!to || !sameTarget(to, a.target)) return { type: 'abort' };
    if (a.promote && r.strategy === 'blueGreen' && !r.promoteRequested && r.switchedAt === undefined) {
      return { type: 'promote', full: a.promote === 'full' };
    }
    if (r.strategy === 'canary') {
      if (a.canaryStep !== undefined && r.fleetStep !== a.canaryStep)
        return { type: 'fleetStep', step: a.canaryStep };
      if (a.promote === 'full' && !r.fullPromote) return { type: 'promote', full: true };
    }
    return { type: 'none' };
  }
  const stable = targetOf(state, state.stable);
  if (stable && sameTarget(stable, a.target)) return { type: 'none' };
  if (actedOn === a.generation) return { type: 'none' };
  return { type: 'deploy', target: a.target };
}

export function serviceReport(
  a: Assignment | undefined,
  state: ServiceState,
  actedOn: number,
  counts: { ready: number; total: number; routesVersion: number },
): HostServiceReport {
  const stable = targetOf(state, state.stable) ?? { version: '?', run: { command: '', cwd: '', env: {} } };
  const target = state.rollout ? (targetOf(state, state.rollout.to) ?? stable) : stable;
  let outcome: HostServiceReport['outcome'] = 'progressing';
  let message = state.message;
  if (a && !state.rollout) {
    if (sameTarget(stable, a.target)) outcome = 'succeeded';
    else if (actedOn === a.generation) {
      outcome = 'failed';
      message = state.lastRollout?.message ?? state.message ?? 'its rollout did not succeed';
    }
  }
  return {
    generation: a?.generation ?? 0,
    stable,
    target,
    phase: state.phase,
    outcome,
    message,
    ready: counts.ready,
    total: counts.total,
    routesVersion: counts.routesVersion,
    previewReady: previewReady(state),
    canaryStep: state.rollout?.strategy === 'canary' ? state.rollout.stepIndex : undefined,
  };
}

/** Blue-green before its switch: the preview side is complete and ready. */
function previewReady(state: ServiceState): boolean {
  const r = state.rollout;
  return r?.strategy === 'blueGreen' && r.previewReadyAt !== undefined && r.switchedAt === undefined;
}
