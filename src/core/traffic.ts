import type { TrafficConfig } from '../config/types.ts';
import type { RouteTraffic, UpstreamRole } from '../gateway/protocol.ts';
import type { ServiceSpec, ServiceState } from './model.ts';

/** Which revisions get traffic, in which role, and how requests are split between roles. */
export interface RoutingView {
  /** Role of each routed revision; a revision not listed gets no traffic (e.g. a warm blue side). */
  roles: Map<number, UpstreamRole>;
  /** Every revision with live instances is routed (rolling updates mix revisions). */
  all: boolean;
  traffic?: RouteTraffic;
  /**
   * Rolling: the revision a rollout moves to (a rollback's too). New long-lived connections go there,
   * so a WebSocket client closed with 1001 by a draining instance reconnects where it can stay.
   */
  longLivedTo?: number;
}

/** The rules in effect: runtime override (`cutover rules`) or the config's. */
export function effectiveTraffic(spec: ServiceSpec, state: ServiceState): TrafficConfig {
  return state.traffic ?? spec.traffic ?? { rules: [] };
}

/** Derives the gateway's view of a service from its state. Pure. */
export function routingView(
  spec: ServiceSpec,
  state: ServiceState,
  mirrorMaxBodyBytes = 64 * 1024,
): RoutingView {
  const rollout = state.rollout;
  const strategy = spec.strategy;
  const roles = new Map<number, UpstreamRole>([[state.stable, 'stable']]);
  if (rollout?.kind === 'drill' && rollout.strategy === 'canary') {
    // A drill's canary takes its weight and nothing else (no rules: a drill is not a gray release).
    roles.set(rollout.to, 'canary');
    return { roles, all: false, traffic: { canaryWeight: rollout.canaryWeight, rules: [] } };
  }
  if (strategy.type === 'rolling')
    return rollout ? { roles, all: true, longLivedTo: rollout.to } : { roles, all: true };
  if (strategy.type === 'blueGreen') {
    if (rollout?.strategy !== 'blueGreen') return { roles, all: false };
    if (rollout.switchedAt !== undefined) return { roles: new Map([[rollout.to, 'stable']]), all: false };
    roles.set(rollout.to, 'preview');
    return {
      roles,
      all: false,
      traffic: { canaryWeight: 0, rules: [], preview: strategy.preview },
    };
  }
  const traffic = effectiveTraffic(spec, state);
  const canary = rollout?.strategy === 'canary' ? rollout : undefined;
  if (canary) roles.set(canary.to, 'canary');
  return {
    roles,
    all: false,
    traffic: {
      canaryWeight: canary?.canaryWeight ?? 0,
      stickyBy: traffic.stickyBy,
      rules: traffic.rules,
      mirror: canary?.mirror
        ? { ...canary.mirror, maxBodyBytes: strategy.mirrorMaxBodyBytes ?? mirrorMaxBodyBytes }
        : undefined,
    },
  };
}
