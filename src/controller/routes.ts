import type { ServiceConfig } from '../config/types.ts';
import { drillFaultConfig, runningDrill } from '../core/drill.ts';
import type { ServiceState } from '../core/model.ts';
import { effectivePolicy } from '../core/policy.ts';
import { routingView } from '../core/traffic.ts';
import type { RouteService, RouteUpstream } from '../gateway/protocol.ts';
import type { InstanceStatus } from '../runtime/types.ts';

/**
 * The routing table the gateway should have: per service, every instance that is alive, ready,
 * not leaving and of a revision the service's state routes (with its role and the traffic
 * split). Pure, so the controller can compare tables and push only real changes.
 */
export function buildRoutes(
  services: ServiceConfig[],
  states: ReadonlyMap<string, ServiceState>,
  instances: InstanceStatus[],
  leaving: ReadonlySet<string>,
): RouteService[] {
  return services.map((svc) => {
    const state = states.get(svc.name);
    const view = state ? routingView(svc, state) : undefined;
    const upstreams: RouteUpstream[] = [];
    for (const i of instances) {
      if (i.service !== svc.name || !i.ready || i.phase !== 'running' || leaving.has(i.id)) continue;
      const role = view?.all ? 'stable' : view?.roles.get(i.revision);
      if (!role) continue;
      upstreams.push({
        instance: i.id,
        revision: i.revision,
        version: i.version,
        address: `127.0.0.1:${i.port}`,
        role,
      });
    }
    upstreams.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
    const policy = effectivePolicy(svc, state);
    const route: RouteService = {
      name: svc.name,
      host: svc.route.host,
      pathPrefix: svc.route.pathPrefix,
      balance: policy.loadBalancer,
      upstreams,
    };
    if (policy.policy !== undefined) route.policy = policy.policy;
    if (svc.protocol !== 'http') route.protocol = svc.protocol;
    if (svc.grpcFailureCodes !== undefined) route.grpcFailureCodes = svc.grpcFailureCodes;
    // The gateway ends a drained instance's gRPC streams itself at this point (see RouteService).
    if (svc.protocol === 'grpc') route.drainTimeoutMs = svc.drainTimeoutMs;
    if (view?.traffic) route.traffic = view.traffic;
    if (view?.longLivedTo !== undefined) route.longLivedTo = view.longLivedTo;
    const drill = runningDrill(state)?.drill;
    const faults = [
      ...(svc.route.faults === undefined ? [] : [svc.route.faults]),
      ...(drill === undefined || state?.rollout === undefined
        ? []
        : [drillFaultConfig(drill.fault, state.rollout.to)]),
    ];
    if (faults.length > 0) route.faults = faults;
    return route;
  });
}

/** Stable key of a table's content (ignores the version number). */
export function routesKey(routes: RouteService[]): string {
  return JSON.stringify(routes);
}
