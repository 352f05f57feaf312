/**
 * Control API routes of fleet mode (`cluster:`): releases go to the fleet's leader as commands
 * through etcd, from whichever host the request reaches; hosts are drained and resumed; the
 * fleet's view. Placed before the single-host routes, so the same CLI commands act on the fleet.
 */
import path from 'node:path';
import { admin, operate, READ } from '../auth/roles.ts';
import type { CutoverConfig, ServiceConfig } from '../config/types.ts';
import type { FleetClient } from '../fleet/client.ts';
import type { FleetCommandAnswer } from '../fleet/command.ts';
import { fleetFamilies } from '../metrics/fleet.ts';
import { writeExposition } from '../metrics/text.ts';
import { onlyKeys, readJson } from './body.ts';
import { readDeployBody } from './deploy-body.ts';
import { ApiError } from './errors.ts';
import type { Route } from './routes.ts';

const HOST_RE = /^[a-z0-9][a-z0-9.-]{0,62}$/;

function answered(a: FleetCommandAnswer): FleetCommandAnswer {
  if (!a.ok) throw new ApiError(409, a.code ?? 'refused', a.message);
  return a;
}

export function unavailable(err: unknown): never {
  if (err instanceof ApiError) throw err;
  throw new ApiError(503, 'fleet_unavailable', (err as Error).message);
}

export function fleetRoutes(
  config: () => CutoverConfig,
  fleet: FleetClient,
  localMetrics: () => Promise<{ contentType: string; text: string }>,
): Route[] {
  const need = (name: string): ServiceConfig => {
    const svc = config().services[name];
    if (!svc) {
      const known = Object.keys(config().services).join(', ');
      throw new ApiError(404, 'unknown_service', `unknown service "${name}" (services: ${known})`);
    }
    return svc;
  };
  return [
    [
      'GET',
      /^\/metrics$/,
      async (_q, res) => {
        // This host's metrics, then the fleet's (etcd out of reach: cutover_fleet_etcd_up 0).
        const [m, view] = await Promise.all([localMetrics(), fleet.view().catch(() => null)]);
        const text = `${m.text}\n${writeExposition(fleetFamilies(view))}`;
        res.writeHead(200, { 'content-type': m.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return undefined;
      },
      READ,
    ],
    ['GET', /^\/v1\/fleet$/, async () => fleet.view().catch(unavailable), READ],
    ['GET', /^\/v1\/fleet\/events$/, async () => ({ events: await fleet.events().catch(unavailable) }), READ],
    [
      'POST',
      /^\/v1\/services\/(?<name>[^/]+)\/deploy$/,
      async (req, res, p) => {
        const configDir = config().file ? path.dirname(config().file!) : process.cwd();
        const d = await readDeployBody(req, need(p.name), configDir);
        const a = answered(
          await fleet
            .submit({ service: p.name, type: 'deploy', version: d.version, run: d.run, actor: 'api' })
            .catch(unavailable),
        );
        res.statusCode = 202;
        return {
          service: p.name,
          version: d.version,
          generation: a.generation,
          message: a.message,
          fleet: true,
        };
      },
      operate('deploy'),
    ],
    [
      'POST',
      /^\/v1\/services\/(?<name>[^/]+)\/(?<op>abort|pause|resume|undo|promote)$/,
      async (req, res, p) => {
        need(p.name);
        const body = await readJson(req);
        onlyKeys(body, p.op === 'promote' ? ['full'] : []);
        if (body.full !== undefined && typeof body.full !== 'boolean') {
          throw new ApiError(400, 'invalid_body', 'full: must be true or false');
        }
        const type = p.op as 'abort' | 'pause' | 'resume' | 'undo' | 'promote';
        const a = answered(
          await fleet
            .submit({ service: p.name, type, full: body.full === true || undefined, actor: 'api' })
            .catch(unavailable),
        );
        res.statusCode = 202;
        return { service: p.name, generation: a.generation, message: a.message, fleet: true };
      },
      operate('{op}'),
    ],
    [
      'POST',
      /^\/v1\/hosts\/(?<host>[^/]+)\/(?<op>drain|resume|remove)$/,
      async (req, _res, p) => {
        if (!HOST_RE.test(p.host))
          throw new ApiError(400, 'invalid_path', `host: "${p.host}" is not a host name`);
        const body = await readJson(req);
        onlyKeys(body, []);
        const view = await fleet.view().catch(unavailable);
        if (!view.hosts.some((h) => h.name === p.host)) {
          throw new ApiError(
            404,
            'unknown_host',
            `unknown host "${p.host}" (hosts: ${view.hosts.map((h) => h.name).join(', ')})`,
          );
        }
        if (p.op === 'remove') {
          if (!(await fleet.removeHost(p.host).catch(unavailable))) {
            throw new ApiError(
              409,
              'host_live',
              `host "${p.host}" is live; stop its cutover up first, then remove it`,
            );
          }
          return { host: p.host, removed: true };
        }
        await fleet.setDrained(p.host, p.op === 'drain', 'api').catch(unavailable);
        return { host: p.host, drained: p.op === 'drain' };
      },
      admin('host {op}'),
    ],
    // One host changing its own routing would split the fleet: refused until they act fleet-wide.
    ...(
      [
        [
          'POST',
          /^\/v1\/services\/(?<name>[^/]+)\/(?:promote|retry)$/,
          'promote and retry (canary and blue-green steps)',
        ],
        ['PUT', /^\/v1\/services\/(?<name>[^/]+)\/weight$/, 'set-weight'],
        ['PUT', /^\/v1\/services\/(?<name>[^/]+)\/rules$/, 'rules'],
        ['DELETE', /^\/v1\/services\/(?<name>[^/]+)\/rules$/, 'rules'],
        ['PUT', /^\/v1\/services\/(?<name>[^/]+)\/limits$/, 'limits'],
        ['DELETE', /^\/v1\/services\/(?<name>[^/]+)\/limits$/, 'limits'],
        ['POST', /^\/v1\/config$/, 'apply (restart each host with the new file)'],
      ] as const
    ).map(
      ([method, re, what]): Route => [
        method,
        re,
        async () => {
          throw new ApiError(409, 'not_in_fleet_mode', `${what}: not available in fleet mode (cluster:) yet`);
        },
        operate('refused in fleet mode'),
      ],
    ),
  ];
}
