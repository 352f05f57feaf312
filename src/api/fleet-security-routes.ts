/**
 * Fleet mode's audit and import endpoints (admin): the audit trail is the fleet's chain in etcd,
 * and `POST /v1/cluster/import` moves what this host kept alone (its tokens, its audit entries)
 * into the fleet. Placed before the single-host routes.
 */
import { admin } from '../auth/roles.ts';
import type { FleetAudit } from '../fleet/audit.ts';
import type { FleetTokens } from '../fleet/tokens.ts';
import { onlyKeys, readJson } from './body.ts';
import { unavailable } from './fleet-routes.ts';
import type { Route } from './routes.ts';
import { limitParam } from './security-routes.ts';

export function fleetSecurityRoutes(audit: FleetAudit, tokens: FleetTokens): Route[] {
  return [
    [
      'GET',
      /^\/v1\/audit$/,
      async (_req, _res, _p, url) => {
        const service = url.searchParams.get('service') ?? undefined;
        const limit = limitParam(url, 100, 100_000);
        return { entries: await audit.list({ service, limit }).catch(unavailable), fleet: true };
      },
      admin(),
    ],
    [
      'GET',
      /^\/v1\/audit\/verify$/,
      async () => ({ ...(await audit.verify().catch(unavailable)), fleet: true }),
      admin(),
    ],
    [
      'POST',
      /^\/v1\/cluster\/import$/,
      async (req) => {
        onlyKeys(await readJson(req), []);
        const t = await tokens.importLocal().catch(unavailable);
        let shipped = 0;
        for (;;) {
          const n = await audit.ship().catch(unavailable);
          if (n === 0) break;
          shipped += n;
        }
        return { tokens: t, audit: { shipped, verify: await audit.verify().catch(unavailable) } };
      },
      admin('cluster.import'),
    ],
  ];
}
