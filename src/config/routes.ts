/** `services.<name>.route`: host and path prefix, and the check that no two services share one. */
import { type Ctx, describe, get, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { validateFaultsAt } from './faults.ts';
import { HOSTNAME_RE, ROUTE_KEYS } from './keys.ts';
import { readObj, readString } from './read.ts';
import type { ConfigIssue, ServiceConfig } from './types.ts';

export function validateRoute(ctx: Ctx, path: Path, raw: unknown): ServiceConfig['route'] {
  const o = readObj(ctx, path, raw, ROUTE_KEYS) ?? {};
  let host = readString(ctx, o, path, 'host', D.DEFAULT_ROUTE_HOST) ?? D.DEFAULT_ROUTE_HOST;
  host = host.toLowerCase();
  if (host !== '*' && !HOSTNAME_RE.test(host.startsWith('*.') ? host.slice(2) : host)) {
    report(
      ctx,
      [...path, 'host'],
      `must be "*", a host name like api.example.com, or a wildcard like *.example.com (no port), ${describe(host)}`,
    );
  }
  const pathPrefix =
    readString(ctx, o, path, 'pathPrefix', D.DEFAULT_ROUTE_PATH_PREFIX) ?? D.DEFAULT_ROUTE_PATH_PREFIX;
  if (!pathPrefix.startsWith('/')) {
    report(ctx, [...path, 'pathPrefix'], `must start with "/", ${describe(pathPrefix)}`);
  } else if (/[\s?#]/.test(pathPrefix)) {
    report(ctx, [...path, 'pathPrefix'], `must not contain whitespace, "?" or "#", ${describe(pathPrefix)}`);
  }
  const rawFaults = get(o, 'faults');
  if (rawFaults === undefined) return { host, pathPrefix };
  return { host, pathPrefix, faults: validateFaultsAt(ctx, [...path, 'faults'], rawFaults) };
}

function routeKey(route: { host: string; pathPrefix: string }): string {
  const prefix = route.pathPrefix.length > 1 ? route.pathPrefix.replace(/\/+$/, '') || '/' : route.pathPrefix;
  return `${route.host.toLowerCase()} ${prefix}`;
}

/**
 * Issues for services whose routes collide (same host and pathPrefix, ignoring a trailing "/").
 * `pathOf(name)` gives the issue path prefix of a service (default `services.<name>`).
 */
export function findRouteConflicts(
  services: readonly ServiceConfig[],
  pathOf: (name: string) => string = (n) => `services.${n}`,
): ConfigIssue[] {
  const seen = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const s of services) {
    const key = routeKey(s.route);
    const other = seen.get(key);
    if (other === undefined) {
      seen.set(key, s.name);
    } else {
      issues.push({
        path: `${pathOf(s.name)}.route`,
        message: `same route as service "${other}" (host "${s.route.host}", pathPrefix "${s.route.pathPrefix}"); give each service its own route.host or route.pathPrefix (defaults: "*" and "/")`,
      });
    }
  }
  return issues;
}
