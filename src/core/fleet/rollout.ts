/**
 * Rolling across hosts, as a pure function: (fleet spec, fleet state, host reports, now) ->
 * next fleet state + events. Hosts go in waves of `hostsAtOnce`; within a host the per-host
 * strategy runs as on a single host. A wave is done when every host in it acknowledges the new
 * assignment (its local rollout succeeded and its gateway applied the routes); any host's failure
 * rolls every host back.
 */
import { canaryProgress, FIRST_CANARY_STEP } from './canary.ts';
import {
  type Assignment,
  type FleetEvent,
  type FleetRollout,
  type FleetServiceSpec,
  type FleetServiceState,
  type FleetTarget,
  type HostReport,
  type HostServiceReport,
  sameTarget,
} from './model.ts';

export interface FleetStep {
  state: FleetServiceState;
  events: FleetEvent[];
}

/** Hosts per wave: an integer, or a percentage of the service's hosts rounded up; at least 1. */
export function waveSize(hostsAtOnce: number | string, hosts: number): number {
  const n =
    typeof hostsAtOnce === 'string' && hostsAtOnce.endsWith('%')
      ? Math.ceil((hosts * Number(hostsAtOnce.slice(0, -1))) / 100)
      : Number(hostsAtOnce);
  return Math.max(1, Math.min(Number.isFinite(n) ? Math.floor(n) : 1, Math.max(hosts, 1)));
}

export function initialFleetState(name: string, target: FleetTarget): FleetServiceState {
  return { name, desired: target, generation: 1, assignments: {} };
}

/** The host acted on its assignment and serves it. */
export function acknowledged(report: HostServiceReport | undefined, a: Assignment | undefined): boolean {
  return (
    report !== undefined &&
    a !== undefined &&
    report.generation === a.generation &&
    report.outcome === 'succeeded' &&
    sameTarget(report.stable, a.target)
  );
}

function failedOn(report: HostServiceReport | undefined, a: Assignment | undefined): boolean {
  return (
    report !== undefined &&
    a !== undefined &&
    report.generation === a.generation &&
    report.outcome === 'failed'
  );
}

/** Where each host should be now, given the rollout's progress. */
function wantedTarget(state: FleetServiceState, host: string): FleetTarget {
  const r = state.rollout;
  if (!r) return state.desired;
  if (r.phase === 'RollingBack') return r.from;
  return r.done.includes(host) || r.wave.includes(host) ? r.to : r.from;
}

/** Brings every host's assignment in line with where it should be. */
function assign(spec: FleetServiceSpec, state: FleetServiceState, events: FleetEvent[]): FleetServiceState {
  let assignments = state.assignments;
  for (const host of spec.hosts) {
    const target = wantedTarget(state, host);
    const current = assignments[host];
    // A host of the wave acknowledges this rollout's generation, also when its target is unchanged.
    const r = state.rollout;
    const inWave = (r?.phase === 'Progressing' || r?.phase === 'Paused') && r.wave.includes(host);
    const promote = inWave ? r?.promoted : undefined;
    const canaryStep =
      inWave && spec.strategy.type === 'canary' ? (r?.canaryStep ?? FIRST_CANARY_STEP) : undefined;
    const same =
      current &&
      sameTarget(current.target, target) &&
      (!inWave || current.generation === state.generation) &&
      current.promote === promote;
    if (same && current.canaryStep === canaryStep) continue;
    const generation =
      inWave || !current || !sameTarget(current.target, target) ? state.generation : current.generation;
    const next: Assignment = { target, generation };
    if (promote) next.promote = promote;
    if (canaryStep !== undefined) next.canaryStep = canaryStep;
    assignments = { ...assignments, [host]: next };
    // A new step limit alone is told once for the fleet (FleetCanaryStep), not once per host.
    if (same) continue;
    events.push({
      service: state.name,
      type: 'HostAssigned',
      host,
      generation: state.generation,
      message: `host ${host} assigned ${target.version} (generation ${state.generation})`,
    });
  }
  return assignments === state.assignments ? state : { ...state, assignments };
}

/** Starts rolling back every host to `from`, under a new generation. */
export function rollBack(state: FleetServiceState, reason: string, events: FleetEvent[]): FleetServiceState {
  const r = state.rollout;
  if (!r) return state;
  const generation = state.generation + 1;
  events.push({
    service: state.name,
    type: 'FleetRollingBack',
    generation,
    message: `rolling back every host to ${r.from.version}: ${reason}`,
  });
  const rollout: FleetRollout = { ...r, phase: 'RollingBack', reason, message: `rolling back: ${reason}` };
  // Every host gets the new generation, also those still on `from`: each one acknowledges it.
  const assignments: Record<string, Assignment> = {};
  for (const host of Object.keys(state.assignments)) assignments[host] = { target: r.from, generation };
  return { ...state, generation, rollout, assignments };
}

function finish(state: FleetServiceState, rollout: FleetRollout, now: number): FleetServiceState {
  const last: FleetRollout = { ...rollout, finishedAt: now };
  const desired = rollout.phase === 'Succeeded' ? rollout.to : rollout.from;
  return { ...state, desired, rollout: undefined, lastRollout: last };
}

/** The next wave: hosts not done nor skipped, live ones first in host order; lost ones per policy. */
function nextWave(
  spec: FleetServiceSpec,
  r: FleetRollout,
  reports: Record<string, HostReport>,
): { wave: string[]; skipped: string[]; lost: string[] } {
  const left = r.hosts.filter((h) => !r.done.includes(h) && !r.skipped.includes(h));
  const live = left.filter((h) => reports[h] !== undefined);
  const lost = left.filter((h) => reports[h] === undefined);
  if (spec.onHostLost === 'continue') return { wave: live.slice(0, r.waveSize), skipped: lost, lost: [] };
  return { wave: live.slice(0, r.waveSize), skipped: [], lost };
}

function progress(
  spec: FleetServiceSpec,
  state: FleetServiceState,
  reports: Record<string, HostReport>,
  now: number,
  events: FleetEvent[],
): FleetServiceState {
  let r = state.rollout!;
  const name = state.name;
  const reportOf = (h: string) => reports[h]?.services[name];
  for (const host of [...r.done, ...r.wave]) {
    if (failedOn(reportOf(host), state.assignments[host])) {
      const why = reportOf(host)?.message ?? 'its rollout failed';
      return rollBack(state, `host ${host}: ${why}`, events);
    }
  }
  const lostInWave = r.wave.filter((h) => reports[h] === undefined);
  if (lostInWave.length > 0) {
    if (spec.onHostLost === 'continue') {
      r = {
        ...r,
        wave: r.wave.filter((h) => !lostInWave.includes(h)),
        skipped: [...r.skipped, ...lostInWave],
      };
      for (const host of lostInWave) {
        events.push({
          service: name,
          type: 'HostLost',
          host,
          message: `host ${host} lost; the rollout goes on without it`,
        });
      }
    } else {
      return pause(state, r, `host ${lostInWave.join(', ')} lost (onHostLost: pause)`, events);
    }
  }
  if (spec.strategy.type === 'blueGreen' && r.wave.length > 0 && !r.promoted) {
    return { ...state, rollout: previews(spec.strategy, state, r, reportOf, now, events) };
  }
  if (spec.strategy.type === 'canary' && r.wave.length > 0) {
    r = canaryProgress(spec.strategy, state, r, reportOf, events);
  }
  const pending = r.wave.filter((h) => !acknowledged(reportOf(h), state.assignments[h]));
  if (pending.length > 0 && spec.strategy.type === 'canary') return { ...state, rollout: r };
  if (pending.length > 0)
    return {
      ...state,
      rollout: { ...r, message: `wave ${r.wave.join(', ')}: waiting for ${pending.join(', ')}` },
    };
  for (const host of r.wave) {
    events.push({
      service: name,
      type: 'FleetHostDone',
      host,
      generation: state.generation,
      message: `host ${host} runs ${r.to.version}`,
    });
  }
  r = { ...r, done: [...r.done, ...r.wave], wave: [] };
  const next = nextWave(spec, r, reports);
  if (next.lost.length > 0 && next.wave.length === 0) {
    return pause(state, r, `host ${next.lost.join(', ')} lost (onHostLost: pause)`, events);
  }
  r = { ...r, skipped: [...r.skipped, ...next.skipped.filter((h) => !r.skipped.includes(h))] };
  if (next.wave.length === 0) {
    const done: FleetRollout = { ...r, phase: 'Succeeded', message: `every host runs ${r.to.version}` };
    events.push({
      service: name,
      type: 'FleetRolloutSucceeded',
      generation: state.generation,
      message: `${r.to.version} runs on ${r.done.join(', ')}${r.skipped.length ? ` (lost, converging later: ${r.skipped.join(', ')})` : ''}`,
    });
    return finish(state, done, now);
  }
  events.push({
    service: name,
    type: 'FleetWaveStarted',
    generation: state.generation,
    message: `wave ${next.wave.join(', ')}: rolling out ${r.to.version}`,
  });
  return {
    ...state,
    rollout: { ...r, wave: next.wave, message: `wave ${next.wave.join(', ')}: rolling out` },
  };
}

/** Hosts whose preview is not ready (for this generation) yet. */
export function previewsPending(
  state: FleetServiceState,
  r: FleetRollout,
  reportOf: (h: string) => HostServiceReport | undefined,
): string[] {
  return r.wave.filter((h) => {
    const rep = reportOf(h);
    return !(rep?.previewReady === true && rep.generation === state.assignments[h]?.generation);
  });
}

/** Blue-green before the switch: waits for every host's preview; auto-promotes them together. */
function previews(
  strategy: { autoPromote: boolean; autoPromoteAfterMs: number },
  state: FleetServiceState,
  r: FleetRollout,
  reportOf: (h: string) => HostServiceReport | undefined,
  now: number,
  events: FleetEvent[],
): FleetRollout {
  const pending = previewsPending(state, r, reportOf);
  if (pending.length > 0)
    return { ...r, previewsReadyAt: undefined, message: `previews: waiting for ${pending.join(', ')}` };
  const readyAt = r.previewsReadyAt ?? now;
  if (strategy.autoPromote && now - readyAt >= strategy.autoPromoteAfterMs) {
    events.push({
      service: state.name,
      type: 'FleetPromoted',
      generation: state.generation,
      message: `every host's preview is ready: switching ${r.wave.join(', ')} (auto-promote)`,
    });
    return { ...r, previewsReadyAt: readyAt, promoted: 'switch', message: 'switching every host' };
  }
  const why = strategy.autoPromote
    ? 'every preview ready: auto-promote delay'
    : 'every preview ready: waiting for promote';
  return { ...r, previewsReadyAt: readyAt, message: why };
}

function pause(
  state: FleetServiceState,
  r: FleetRollout,
  why: string,
  events: FleetEvent[],
): FleetServiceState {
  if (state.rollout?.phase !== 'Paused') {
    events.push({
      service: state.name,
      type: 'FleetRolloutPaused',
      generation: state.generation,
      message: why,
    });
  }
  return { ...state, rollout: { ...r, phase: 'Paused', message: why } };
}

function rollingBack(
  state: FleetServiceState,
  reports: Record<string, HostReport>,
  now: number,
  events: FleetEvent[],
): FleetServiceState {
  const r = state.rollout!;
  // Lost hosts are not waited for: they converge to their assignment when they return.
  const pending = Object.keys(state.assignments).filter(
    (h) => reports[h] !== undefined && !acknowledged(reports[h].services[state.name], state.assignments[h]),
  );
  if (pending.length > 0)
    return { ...state, rollout: { ...r, message: `rolling back: waiting for ${pending.join(', ')}` } };
  events.push({
    service: state.name,
    type: 'FleetRolledBack',
    generation: state.generation,
    message: `every host runs ${r.from.version} again (${r.reason ?? 'rolled back'})`,
  });
  return finish(state, { ...r, phase: 'RolledBack', message: `rolled back: ${r.reason ?? ''}` }, now);
}

/**
 * Hosts no longer among the service's hosts (removed from the fleet or from `hosts`): their
 * assignment goes, and a rollout stops waiting for them.
 */
function forgetRemoved(spec: FleetServiceSpec, state: FleetServiceState): FleetServiceState {
  const gone = Object.keys(state.assignments).filter((h) => !spec.hosts.includes(h));
  const r = state.rollout;
  const leaving = r ? r.hosts.filter((h) => !spec.hosts.includes(h) && !r.skipped.includes(h)) : [];
  if (gone.length === 0 && leaving.length === 0) return state;
  const assignments = Object.fromEntries(
    Object.entries(state.assignments).filter(([h]) => spec.hosts.includes(h)),
  );
  const rollout =
    r && leaving.length > 0
      ? { ...r, wave: r.wave.filter((h) => !leaving.includes(h)), skipped: [...r.skipped, ...leaving] }
      : r;
  return { ...state, assignments, rollout };
}

/** One reconcile of a service across the fleet. */
export function reconcileFleet(
  spec: FleetServiceSpec,
  state: FleetServiceState,
  reports: Record<string, HostReport>,
  now: number,
): FleetStep {
  const events: FleetEvent[] = [];
  let next = forgetRemoved(spec, state);
  const phase = next.rollout?.phase;
  if (phase === 'Paused' && !next.rollout!.pausedByUser) {
    const r = next.rollout!;
    const back =
      r.wave.every((h) => reports[h] !== undefined) &&
      (r.wave.length > 0 || nextWave(spec, r, reports).lost.length === 0);
    if (back) {
      events.push({
        service: next.name,
        type: 'FleetRolloutResumed',
        generation: next.generation,
        message: 'lost hosts are back; the rollout goes on',
      });
      next = { ...next, rollout: { ...r, phase: 'Progressing' } };
    }
  }
  if (next.rollout?.phase === 'Progressing') next = progress(spec, next, reports, now, events);
  else if (next.rollout?.phase === 'RollingBack') next = rollingBack(next, reports, now, events);
  next = assign(spec, next, events);
  return { state: next, events };
}
