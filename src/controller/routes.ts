import type { ServiceConfig } from '../config/types.ts';
import type { RouteService, RouteUpstream } from '../gateway/protocol.ts';
import type { InstanceStatus } from '../runtime/types.ts';

/**
 * The routing table the gateway should have: per service, every instance that is alive, ready and
 * not leaving. Pure, so the controller can compare tables and push only real changes.
 */
export function buildRoutes(
  services: ServiceConfig[],
  instances: InstanceStatus[],
  leaving: ReadonlySet<string>,
): RouteService[] {
  return services.map((svc) => {
    const upstreams: RouteUpstream[] = instances
      .filter((i) => i.service === svc.name && i.ready && i.phase === 'running' && !leaving.has(i.id))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((i) => ({
        instance: i.id,
        revision: i.revision,
        version: i.version,
        address: `127.0.0.1:${i.port}`,
      }));
    return {
      name: svc.name,
      host: svc.route.host,
      pathPrefix: svc.route.pathPrefix,
      balance: svc.loadBalancer,
      upstreams,
    };
  });
}

/** Stable key of a table's content (ignores the version number). */
export function routesKey(routes: RouteService[]): string {
  return JSON.stringify(routes);
}
