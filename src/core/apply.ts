import type { ConfigChange } from '../config/diff.ts';
import type { CutoverConfig, ServiceConfig } from '../config/types.ts';
import type { CoreEvent, ServiceState } from './model.ts';
import { asStrategy } from './rollout.ts';
import { deploy, initialServiceState } from './service.ts';

/** Outcome of `cutover apply`, with the changes it was decided on. */
export type ApplyResult =
  | { ok: true; applied: boolean; changes: ConfigChange[] }
  | { ok: false; code: 'rollout_in_progress'; message: string; changes: ConfigChange[] };

/** What the shell does to apply a config: the new config, states to store, services to remove. */
export interface ApplyPlan {
  result: ApplyResult;
  /** The config in effect from now on; absent when nothing is applied (refused, dry run, no change). */
  config?: CutoverConfig;
  /** New or changed service states (added services, new revisions), to store with `events`. */
  states: ServiceState[];
  /** Services no longer in the config: their state is forgotten, their instances drained. */
  removed: ServiceConfig[];
  events: CoreEvent[];
}

/** `services.<name>...` -> `<name>` ('' for a change outside the services). */
function serviceOf(change: ConfigChange): string {
  return change.path.split('.')[1] ?? '';
}

/**
 * `cutover apply`, decided from `changes` (diffConfig of the config in effect and `next`). Route, traffic, probe,
 * replica and timeout changes take effect at the next reconcile; a changed version or run
 * template becomes a new revision rolled out with the service's strategy; added services start,
 * removed ones are drained and stopped. TLS and HTTP/2 gateway settings are taken into the config
 * (the shell then reloads the gateway); other gateway and control settings need a restart: reported,
 * not applied. All or nothing: a new revision for a service that is mid-rollout refuses the
 * whole apply. Pure.
 */
export function planApply(
  current: CutoverConfig,
  next: CutoverConfig,
  changes: ConfigChange[],
  states: ReadonlyMap<string, ServiceState>,
  now: number,
  dryRun: boolean,
): ApplyPlan {
  const nothing = (result: ApplyResult): ApplyPlan => ({
    result,
    states: [],
    removed: [],
    events: [],
  });
  const revised = [...new Set(changes.filter((change) => change.effect === 'new-revision').map(serviceOf))];
  const busy = revised.filter((name) => states.get(name)?.rollout);
  if (busy.length > 0) {
    return nothing({
      ok: false,
      code: 'rollout_in_progress',
      message: `service ${busy.map((name) => `"${name}"`).join(', ')} is rolling out; apply again when it has finished (nothing was changed)`,
      changes,
    });
  }
  if (dryRun || changes.length === 0) return nothing({ ok: true, applied: false, changes });

  // Gateway settings that a reload takes (certificates, TLS, HTTP/2) come from the new file; the rest
  // needs a restart and stays as it runs.
  const reloads = changes.some((change) => change.effect === 'reload');
  const gateway = reloads
    ? {
        ...current.gateway,
        http2: next.gateway.http2,
        ...(current.gateway.tls && next.gateway.tls
          ? { tls: { ...next.gateway.tls, listen: current.gateway.tls.listen } }
          : {}),
      }
    : current.gateway;
  // `cluster` needs a restart, like `control`: the running host keeps its identity and etcd session.
  const { cluster: _next, ...rest } = next;
  const config: CutoverConfig = {
    ...rest,
    gateway,
    control: current.control,
    ...(current.cluster === undefined ? {} : { cluster: current.cluster }),
  };
  const changed = new Map<string, ServiceState>();
  const removed: ServiceConfig[] = [];
  const events: CoreEvent[] = [];
  for (const change of changes) {
    const name = serviceOf(change);
    if (change.effect === 'added') {
      const spec = next.services[name];
      changed.set(name, initialServiceState(name, spec.version, spec.run, now));
      events.push({ service: name, type: 'RolloutStarted', revision: 1, message: 'service added by apply' });
    } else if (change.effect === 'removed') {
      removed.push(current.services[name]);
    }
  }
  // A rollout whose service changed strategy type goes on under the new one (converted once, here).
  for (const [name, spec] of Object.entries(next.services)) {
    const state = states.get(name);
    if (!state?.rollout || changed.has(name)) continue;
    const rollout = asStrategy(state.rollout, spec.strategy.type);
    if (rollout !== state.rollout) changed.set(name, { ...state, rollout });
  }
  for (const name of revised) {
    const spec = next.services[name];
    const state = changed.get(name) ?? states.get(name);
    if (!spec || !state) continue;
    const deployed = deploy(spec, state, spec.version, spec.run, now, 'deploy', 'from apply');
    if (deployed.ok) {
      changed.set(name, deployed.state);
      events.push(...deployed.events);
    }
  }
  for (const name of new Set(changes.map(serviceOf))) {
    if (name && config.services[name]) {
      const count = changes.filter((change) => serviceOf(change) === name).length;
      events.push({ service: name, type: 'ConfigApplied', message: `config applied (${count} changes)` });
    }
  }
  return {
    result: { ok: true, applied: true, changes },
    config,
    states: [...changed.values()],
    removed,
    events,
  };
}
