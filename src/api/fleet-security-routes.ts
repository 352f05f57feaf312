/**
 * Fleet mode's audit and import endpoints (admin): the audit trail is the fleet's chain in etcd,
 * and `POST /v1/cluster/import` moves what this host kept alone (its tokens, its audit entries)
 * into the fleet. Placed before the single-host routes.
 */
import { admin } from '../auth/roles.ts';
import type { FleetAudit } from '../fleet/audit.ts';
import type { FleetTokens } from '../fleet/tokens.ts';
import { onlyKeys, readJson } from './body.ts';
import { ApiError } from './errors.ts';
import type { Route } from './routes.ts';

const unavailable = (err: unknown): never => {
  throw new ApiError(503, 'fleet_unavailable', (err as Error).message);
};

export function fleetSecurityRoutes(audit: FleetAudit, tokens: FleetTokens): Route[] {
  return [
    [
      'GET',
      /^\/v1\/audit$/,
      async (_req, _res, _p, url) => {
        const service = url.searchParams.get('service') ?? undefined;
        const raw = url.searchParams.get('limit');
        const limit = raw === null ? 100 : Number(raw);
        if (!Number.isInteger(limit) || limit < 1)
          throw new ApiError(400, 'invalid_query', 'limit: must be an integer >= 1');
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
