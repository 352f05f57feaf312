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
  const r = state.rollout;
  const strategy = spec.strategy;
  const roles = new Map<number, UpstreamRole>([[state.stable, 'stable']]);
  if (strategy.type === 'rolling') return { roles, all: true };
  if (strategy.type === 'blueGreen') {
    if (!r) return { roles, all: false };
    if (r.switchedAt !== undefined) return { roles: new Map([[r.to, 'stable']]), all: false };
    roles.set(r.to, 'preview');
    return {
      roles,
      all: false,
      traffic: { canaryWeight: 0, rules: [], preview: strategy.preview },
    };
  }
  const t = effectiveTraffic(spec, state);
  if (r) roles.set(r.to, 'canary');
  return {
    roles,
    all: false,
    traffic: {
      canaryWeight: r?.canaryWeight ?? 0,
      stickyBy: t.stickyBy,
      rules: t.rules,
      mirror: r?.mirror
        ? { ...r.mirror, maxBodyBytes: strategy.mirrorMaxBodyBytes ?? mirrorMaxBodyBytes }
        : undefined,
    },
  };
}
