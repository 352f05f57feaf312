/** Fleet commands (deploy, abort, pause, resume, undo): pure, answered before anything acts. */

import { canaryPromote } from './canary.ts';
import type {
  FleetEvent,
  FleetRollout,
  FleetServiceSpec,
  FleetServiceState,
  FleetTarget,
  HostReport,
} from './model.ts';
import { sameTarget } from './model.ts';
import { previewsPending, rollBack, waveSize } from './rollout.ts';

export type FleetCommandResult =
  | { ok: true; state: FleetServiceState; events: FleetEvent[] }
  | {
      ok: false;
      code:
        | 'rollout_in_progress'
        | 'no_rollout'
        | 'not_paused'
        | 'nothing_to_undo'
        | 'no_hosts'
        | 'unknown_host'
        | 'config_mismatch'
        | 'unsupported'
        | 'not_ready';
      message: string;
    };

export function fleetDeploy(
  spec: FleetServiceSpec,
  state: FleetServiceState,
  target: FleetTarget,
  now: number,
  kind: FleetRollout['kind'] = 'deploy',
): FleetCommandResult {
  if (state.rollout) {
    return {
      ok: false,
      code: 'rollout_in_progress',
      message: `service "${state.name}" is already rolling out ${state.rollout.to.version} across the fleet (${state.rollout.phase})`,
    };
  }
  if (spec.hosts.length === 0)
    return { ok: false, code: 'no_hosts', message: `service "${state.name}" has no hosts` };
  const generation = state.generation + 1;
  const rollout: FleetRollout = {
    generation,
    kind,
    from: state.desired,
    to: target,
    hosts: [...spec.hosts],
    waveSize: waveSize(spec.hostsAtOnce, spec.hosts.length),
    done: [],
    wave: [],
    skipped: [],
    phase: 'Progressing',
    message: 'starting',
    startedAt: now,
  };
  const same = sameTarget(target, state.desired) ? ' (the version it runs)' : '';
  return {
    ok: true,
    state: { ...state, generation, rollout },
    events: [
      {
        service: state.name,
        type: 'FleetRolloutStarted',
        generation,
        message: `rolling out ${target.version}${same} to ${spec.hosts.length} host(s), ${rollout.waveSize} at a time`,
      },
    ],
  };
}

/** Takes every host back to the revision the fleet ran before the rollout. */
export function fleetAbort(state: FleetServiceState, reason: string): FleetCommandResult {
  const r = state.rollout;
  if (!r || r.phase === 'RollingBack') {
    return { ok: false, code: 'no_rollout', message: `service "${state.name}" has no rollout to abort` };
  }
  const events: FleetEvent[] = [];
  return { ok: true, state: rollBack(state, reason, events), events };
}

export function fleetSetPaused(state: FleetServiceState, paused: boolean): FleetCommandResult {
  const r = state.rollout;
  if (!r || r.phase === 'RollingBack') {
    return {
      ok: false,
      code: 'no_rollout',
      message: `service "${state.name}" has no rollout to ${paused ? 'pause' : 'resume'}`,
    };
  }
  if (!paused && r.phase !== 'Paused')
    return { ok: false, code: 'not_paused', message: `the rollout of "${state.name}" is not paused` };
  const rollout: FleetRollout = paused
    ? { ...r, phase: 'Paused', pausedByUser: true, message: 'paused by a user' }
    : { ...r, phase: 'Progressing', pausedByUser: undefined, message: 'resumed' };
  return {
    ok: true,
    state: { ...state, rollout },
    events: [
      {
        service: state.name,
        type: paused ? 'FleetRolloutPaused' : 'FleetRolloutResumed',
        generation: state.generation,
        message: paused ? 'paused by a user' : 'resumed by a user',
      },
    ],
  };
}

/** Rolls the fleet out to the revision it ran before its last successful rollout. */
export function fleetUndo(spec: FleetServiceSpec, state: FleetServiceState, now: number): FleetCommandResult {
  const last = state.lastRollout;
  if (last?.phase !== 'Succeeded') {
    return {
      ok: false,
      code: 'nothing_to_undo',
      message: `service "${state.name}" has no earlier fleet revision to go back to`,
    };
  }
  return fleetDeploy(spec, state, last.from, now, 'undo');
}

/**
 * Blue-green: switches every host to its preview at once, once every preview is ready. Canary: lets
 * every host past the untimed pause they wait at, or (full) on to the promotion.
 */
export function fleetPromote(
  spec: FleetServiceSpec,
  state: FleetServiceState,
  reports: Record<string, HostReport>,
  full: boolean,
): FleetCommandResult {
  const r = state.rollout;
  if (!r || r.phase === 'RollingBack') {
    return { ok: false, code: 'no_rollout', message: `service "${state.name}" has no rollout to promote` };
  }
  if (spec.strategy.type === 'canary') {
    const p = canaryPromote(spec.strategy, state, r, full);
    if (!p.ok) return { ok: false, code: 'not_paused', message: p.message };
    const event: FleetEvent = {
      service: state.name,
      type: 'FleetPromoted',
      generation: state.generation,
      message: p.message,
    };
    return { ok: true, state: { ...state, rollout: p.rollout }, events: [event] };
  }
  if (spec.strategy.type !== 'blueGreen') {
    return {
      ok: false,
      code: 'unsupported',
      message: `service "${state.name}" rolls out in waves, which have no switch to promote`,
    };
  }
  if (r.promoted)
    return {
      ok: false,
      code: 'unsupported',
      message: `every host of "${state.name}" was already told to switch`,
    };
  const pending = previewsPending(state, r, (h) => reports[h]?.services[state.name]);
  if (r.wave.length === 0 || pending.length > 0) {
    return {
      ok: false,
      code: 'not_ready',
      message: `the preview of ${state.name} is not ready on ${pending.join(', ') || 'any host yet'}; nothing was switched`,
    };
  }
  return {
    ok: true,
    state: {
      ...state,
      rollout: { ...r, promoted: full ? 'full' : 'switch', message: 'switching every host' },
    },
    events: [
      {
        service: state.name,
        type: 'FleetPromoted',
        generation: state.generation,
        message: `switching ${r.wave.join(', ')} to ${r.to.version}${full ? ' (analysis gates skipped)' : ''}`,
      },
    ],
  };
}
