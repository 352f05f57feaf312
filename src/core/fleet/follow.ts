/**
 * A host's side of the fleet, as pure functions: what the host's controller does about its
 * assignment, and what it reports back. The host acts once per assignment generation, so a
 * local rollout that failed is reported (and the leader rolls the fleet back) instead of tried
 * again and again.
 */
import { findRevision, type ServiceState } from '../model.ts';
import type { Assignment, FleetTarget, HostServiceReport } from './model.ts';
import { sameTarget } from './model.ts';

export type HostAction = { type: 'none' } | { type: 'deploy'; target: FleetTarget } | { type: 'abort' };

function targetOf(state: ServiceState, revision: number): FleetTarget | undefined {
  const r = findRevision(state, revision);
  return r ? { version: r.version, run: r.run } : undefined;
}

/** `actedOn`: the generation this host last started a local rollout for (0: none). */
export function followAssignment(a: Assignment, state: ServiceState, actedOn: number): HostAction {
  if (state.rollout) {
    const to = targetOf(state, state.rollout.to);
    // A local rollout to something else than assigned (a rollback, a newer assignment) ends first.
    return to && sameTarget(to, a.target) ? { type: 'none' } : { type: 'abort' };
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
  };
}
