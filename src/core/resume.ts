import type { CoreEvent, Rollout, ServiceSpec, ServiceState } from './model.ts';
import { asStrategy, fromStored } from './rollout.ts';
import { initialServiceState } from './service.ts';

/** A configured service, with what its first revision needs. */
export type ResumeSpec = Pick<ServiceSpec, 'name' | 'strategy'> &
  Pick<ServiceState['revisions'][number], 'version' | 'run'>;

/** The services' state when the controller starts, and what of it to store before acting. */
export interface ResumePlan {
  /** By service name, for every configured service. */
  states: Map<string, ServiceState>;
  /** States that are new or changed by resuming (to store with `events`). */
  changed: ServiceState[];
  events: CoreEvent[];
  /** Services whose rollout goes on where it was. */
  resumed: Array<{ service: string; revision: number }>;
}

/**
 * A rollout picked up after a restart: the time the controller was down is not the new
 * revision's fault (progress is measured from now), and a hook that was running died with the
 * old controller, so it runs again (hooks must be idempotent).
 */
export function resumeRollout(rollout: Rollout, now: number): Rollout {
  const hooks = Object.fromEntries(
    Object.entries(rollout.hooks ?? {}).filter(([, run]) => run?.status !== 'running'),
  );
  return { ...rollout, lastProgressAt: now, hooks };
}

/**
 * The rules for starting up: a configured service without stored state gets revision 1 (stable
 * from the start); one with state gets it back (rows of an older shape converted), its rollout
 * resumed under the strategy type configured now. Stored services no longer configured are left alone. Pure.
 */
export function resumeServices(
  specs: ResumeSpec[],
  stored: ReadonlyMap<string, ServiceState>,
  now: number,
): ResumePlan {
  const plan: ResumePlan = { states: new Map(), changed: [], events: [], resumed: [] };
  for (const spec of specs) {
    const found = stored.get(spec.name);
    let state: ServiceState;
    if (!found) {
      state = initialServiceState(spec.name, spec.version, spec.run, now);
      plan.changed.push(state);
      plan.events.push({
        service: spec.name,
        type: 'RolloutStarted',
        revision: 1,
        message: 'first revision',
      });
    } else {
      state = fromStored(found, spec.strategy.type);
      if (state.rollout) {
        // The config may name another strategy type than the rollout was started with: it goes on under the new one.
        const rollout = asStrategy(state.rollout, spec.strategy.type);
        state = { ...state, rollout: resumeRollout(rollout, now) };
        plan.changed.push(state);
        plan.resumed.push({ service: spec.name, revision: state.rollout?.to ?? state.stable });
      }
    }
    plan.states.set(spec.name, state);
  }
  return plan;
}
