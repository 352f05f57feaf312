/** What `--wait` makes of one look at the fleet (pure): still going, or done with an exit code. */
import type { FleetView } from '../fleet/view.ts';

/** How often --wait looks at the fleet (GET /v1/fleet): the fleet has no event stream yet. */
export const FLEET_POLL_INTERVAL_MS = 500;

export type FleetWaitOutcome =
  | { done: false; progress: string }
  | { done: true; ok: boolean; message: string };

/**
 * Whether the fleet rollout that a command answered with `generation` is over. It is when the
 * service has no rollout and either its last rollout's generation or its own reached `generation`:
 * a rollback bumps the service's generation but the rollout keeps its own, so an abort answers a
 * generation the rollout never carries. Judged by the last rollout's phase.
 */
export function fleetWaitOutcome(view: FleetView, service: string, generation: number): FleetWaitOutcome {
  const s = view.services.find((x) => x.name === service);
  if (!s) return { done: false, progress: `${service} is not in the fleet's state yet` };
  const r = s.rollout;
  if (r) {
    const wave = r.wave.length ? `wave ${r.wave.join(', ')}` : 'no wave';
    const done = `${r.done.length}/${r.hosts.length} hosts done${r.done.length ? ` (${r.done.join(', ')})` : ''}`;
    return {
      done: false,
      progress: `${r.phase} ${r.from.version} -> ${r.to.version} (generation ${r.generation}): ${wave}, ${done}: ${r.message}`,
    };
  }
  const l = s.lastRollout;
  if (!l || Math.max(l.generation, s.generation) < generation) {
    return { done: false, progress: `waiting for generation ${generation} of ${service} to start` };
  }
  if (l.phase === 'Succeeded') {
    const lost = l.skipped.length ? ` but ${l.skipped.join(', ')} (lost; converging when they return)` : '';
    return { done: true, ok: true, message: `${l.to.version} of ${service} runs on every host${lost}` };
  }
  return {
    done: true,
    ok: false,
    message: `${l.to.version} of ${service} was rolled back on every host to ${l.from.version}: ${l.reason ?? l.message}`,
  };
}
