/**
 * The control API's routes: method, path pattern, handler and who may call it. The server
 * (server.ts) matches them and wraps each call in the guard (guard.ts).
 */
import type http from 'node:http';
import path from 'node:path';
import { type Access, admin, operate, PUBLIC, READ } from '../auth/roles.ts';
import { parseConfig } from '../config/load.ts';
import { validateTraffic, validateWeight } from '../config/traffic.ts';
import type { Controller } from '../controller/controller.ts';
import { abort, promote, retry, setPaused, setTraffic, setWeight } from '../core/commands.ts';
import { CUTOVER_VERSION } from '../util/version.ts';
import { type Handler, onlyKeys, readJson } from './body.ts';
import { readDeployBody } from './deploy-body.ts';
import { drillRoutes } from './drill-routes.ts';
import { ApiError, invalid } from './errors.ts';
import type { Security } from './guard.ts';
import { limitsRoutes } from './limits-routes.ts';
import { logFiles, streamLogs } from './logs.ts';
import { gatewayMetrics } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { changeThenAnswer } from './route-push.ts';
import { securityRoutes } from './security-routes.ts';
import { sessionRoutes } from './session-routes.ts';
import { serviceStatus } from './status.ts';
import { streamStatus } from './stream.ts';
import { trafficView } from './traffic.ts';

/** Method, path pattern, handler and who may call it (src/auth/roles.ts; default admin only). */
export type Route = [method: string, pattern: RegExp, handler: Handler, access?: Access];

/** The control API's service routes (tests enumerate every endpoint through allRoutes). */
function apiRoutes(c: Controller): Route[] {
  // `--set run.cwd=rel/path` is relative to the config file, like run.cwd in the file.
  const configDir = c.config.file ? path.dirname(c.config.file) : process.cwd();
  const need = (name: string) => {
    const svc = c.service(name);
    if (!svc) {
      const known = c
        .services()
        .map((s) => s.name)
        .join(', ');
      throw new ApiError(404, 'unknown_service', `unknown service "${name}" (services: ${known})`);
    }
    return svc;
  };
  // The answer comes once every gateway worker routes by the new state (abort, weights, rules).
  const changeThenStatus = (
    name: string,
    res: http.ServerResponse,
    change: Parameters<Controller['run']>[1],
  ) => changeThenAnswer(c, res, name, change, () => ({ ...serviceStatus(c, name) }));
  const routes: Route[] = [
    ['GET', /^\/healthz$/, async () => ({ ok: true }), PUBLIC],
    ['GET', /^\/openapi\.json$/, async () => openApiDocument(CUTOVER_VERSION), READ],
    [
      'POST',
      /^\/v1\/gateway\/reload$/,
      async (req) => {
        const body = await readJson(req);
        onlyKeys(body, ['master']);
        if (body.master !== undefined && typeof body.master !== 'boolean') {
          throw new ApiError(400, 'invalid_body', 'master: must be true or false');
        }
        try {
          return await c.gatewayAdmin.reload(body.master === true);
        } catch (err) {
          throw new ApiError(502, 'gateway_reload_failed', (err as Error).message);
        }
      },
      admin('gateway reload'),
    ],
    [
      'GET',
      /^\/v1\/certs$/,
      async () => {
        try {
          return { certificates: await c.gatewayAdmin.certificates() };
        } catch (err) {
          throw new ApiError(502, 'gateway_unreachable', (err as Error).message);
        }
      },
      READ,
    ],
    [
      'POST',
      /^\/v1\/certs\/renew$/,
      async (req) => {
        const body = await readJson(req);
        onlyKeys(body, ['host']);
        if (typeof body.host !== 'string' || body.host === '') {
          throw new ApiError(400, 'invalid_body', 'host: must be the host name whose certificate to renew');
        }
        try {
          return await c.gatewayAdmin.renewCertificate(body.host);
        } catch (err) {
          const e = err as Error & { status?: number };
          if (e.status === 404) throw new ApiError(404, 'no_such_certificate', e.message);
          throw new ApiError(502, 'renewal_failed', e.message);
        }
      },
      admin('certificate renewal'),
    ],
    [
      'GET',
      /^\/v1\/stream$/,
      async (req, res, _p, url) => {
        const only = url.searchParams.get('service') ?? undefined;
        if (only) need(only);
        streamStatus(c, req, res, only);
        return undefined;
      },
      READ,
    ],
    [
      'GET',
      /^\/metrics$/,
      async (_q, res) => {
        // Prometheus text; scrapers authenticate like the CLI (a token with the read role).
        const m = await gatewayMetrics(c);
        res.writeHead(200, { 'content-type': m.contentType, 'content-length': Buffer.byteLength(m.text) });
        res.end(m.text);
        return undefined;
      },
      READ,
    ],
    [
      'GET',
      /^\/v1\/traffic$/,
      async (_q, _s, _p, url) => {
        const only = url.searchParams.get('service') ?? undefined;
        if (only) need(only);
        return trafficView(c, only);
      },
      READ,
    ],
    [
      'GET',
      /^\/v1\/services$/,
      async () => ({ services: c.services().map((s) => serviceStatus(c, s.name)) }),
      READ,
    ],
    [
      'GET',
      /^\/v1\/services\/(?<name>[^/]+)$/,
      async (_q, _s, p) => {
        need(p.name);
        return serviceStatus(c, p.name);
      },
      READ,
    ],
    [
      'POST',
      /^\/v1\/services\/(?<name>[^/]+)\/deploy$/,
      async (req, res, p) => {
        const d = await readDeployBody(req, need(p.name), configDir);
        const r = c.deploy(p.name, d.version, d.run);
        if (!r.ok) throw new ApiError(409, r.code, r.message);
        res.statusCode = 202;
        return { service: p.name, revision: r.revision, version: d.version };
      },
      operate('deploy'),
    ],
    [
      'POST',
      /^\/v1\/services\/(?<name>[^/]+)\/undo$/,
      async (req, res, p) => {
        need(p.name);
        const body = await readJson(req);
        onlyKeys(body, ['toRevision']);
        const to = body.toRevision;
        if (to !== undefined && (typeof to !== 'number' || !Number.isInteger(to) || to < 1)) {
          throw new ApiError(400, 'invalid_body', 'toRevision: must be a revision number (integer >= 1)');
        }
        const r = c.undo(p.name, to as number | undefined);
        if (!r.ok) throw new ApiError(r.code === 'no_such_revision' ? 404 : 409, r.code, r.message);
        res.statusCode = 202;
        const rev = r.state.revisions.find((x) => x.number === r.revision);
        return { service: p.name, revision: r.revision, version: rev?.version };
      },
      operate('undo'),
    ],
    [
      'POST',
      /^\/v1\/services\/(?<name>[^/]+)\/(?<op>promote|abort|pause|resume|retry)$/,
      async (req, res, p) => {
        need(p.name);
        const body = await readJson(req);
        onlyKeys(body, p.op === 'promote' ? ['full'] : []);
        if (body.full !== undefined && typeof body.full !== 'boolean') {
          throw new ApiError(400, 'invalid_body', 'full: must be true or false');
        }
        return changeThenStatus(p.name, res, (svc, s, now) => {
          switch (p.op) {
            case 'promote':
              return promote(svc, s, now, body.full === true);
            case 'abort':
              return abort(s, now);
            case 'pause':
              return setPaused(s, true);
            case 'resume':
              return setPaused(s, false);
            default:
              return retry(svc, s, now);
          }
        });
      },
      operate('{op}'),
    ],
    [
      'PUT',
      /^\/v1\/services\/(?<name>[^/]+)\/weight$/,
      async (req, res, p) => {
        need(p.name);
        const body = await readJson(req);
        onlyKeys(body, ['weight']);
        const v = validateWeight(body.weight);
        if (!v.ok) throw invalid(v.issues);
        return changeThenStatus(p.name, res, (svc, s) => setWeight(svc, s, v.weight));
      },
      operate('weight'),
    ],
    [
      'PUT',
      /^\/v1\/services\/(?<name>[^/]+)\/rules$/,
      async (req, res, p) => {
        need(p.name);
        const body = await readJson(req);
        onlyKeys(body, ['traffic']);
        const v = validateTraffic(body.traffic, 'traffic');
        if (!v.ok) throw invalid(v.issues);
        return changeThenStatus(p.name, res, (svc, s) => setTraffic(svc, s, v.traffic));
      },
      operate('rules.set'),
    ],
    [
      'DELETE',
      /^\/v1\/services\/(?<name>[^/]+)\/rules$/,
      async (_req, res, p) => {
        need(p.name);
        return changeThenStatus(p.name, res, (svc, s) => setTraffic(svc, s, undefined));
      },
      operate('rules.reset'),
    ],
    [
      'GET',
      /^\/v1\/services\/(?<name>[^/]+)\/history$/,
      async (_q, _s, p) => {
        need(p.name);
        const st = c.state(p.name)!;
        return { service: p.name, stable: st.stable, revisions: st.revisions };
      },
      READ,
    ],
    [
      'POST',
      /^\/v1\/config$/,
      async (req) => {
        const body = await readJson(req);
        onlyKeys(body, ['yaml', 'file', 'dryRun']);
        if (typeof body.yaml !== 'string')
          throw new ApiError(400, 'invalid_body', 'yaml: required, the config file text');
        if (body.file !== undefined && typeof body.file !== 'string') {
          throw new ApiError(400, 'invalid_body', 'file: must be the config file path');
        }
        const file = typeof body.file === 'string' ? path.resolve(body.file) : c.config.file;
        const parsed = parseConfig(body.yaml, { file, baseDir: file ? path.dirname(file) : process.cwd() });
        if (!parsed.ok) throw invalid(parsed.issues);
        const r = c.applyConfig(parsed.config, body.dryRun === true);
        if (!r.ok) throw new ApiError(409, r.code, r.message, r.changes);
        if (r.applied && r.changes.some((change) => change.effect === 'reload')) {
          try {
            const gatewayReload = await c.reloadGatewaySettings();
            return { applied: r.applied, changes: r.changes, gatewayReload };
          } catch (err) {
            throw new ApiError(
              502,
              'gateway_reload_failed',
              `applied, but the gateway did not reload: ${(err as Error).message}`,
            );
          }
        }
        return { applied: r.applied, changes: r.changes };
      },
    ],
    [
      'GET',
      /^\/v1\/events$/,
      async (_q, _s, _p, url) => {
        const service = url.searchParams.get('service') ?? undefined;
        if (service) need(service);
        const limit = Math.min(Number(url.searchParams.get('limit') ?? 100) || 100, 10_000);
        return { events: c.events({ service, limit }) };
      },
      READ,
    ],
    [
      'GET',
      /^\/v1\/services\/(?<name>[^/]+)\/logs\/files$/,
      async (_q, _s, p) => {
        need(p.name);
        // Stopped instances too (a crashed one's last words), newest first.
        const live = new Set(c.instances(p.name).map((i) => i.id));
        const files = logFiles(c.config.control.dataDir, p.name).map((f) => ({
          instance: f.instance,
          modifiedAt: Math.round(f.mtime),
          live: live.has(f.instance),
        }));
        return { service: p.name, files };
      },
      READ,
    ],
    [
      'GET',
      /^\/v1\/services\/(?<name>[^/]+)\/logs$/,
      async (_q, res, p, url) => {
        need(p.name);
        const instance = url.searchParams.get('instance');
        const all = logFiles(c.config.control.dataDir, p.name);
        let files: typeof all;
        if (instance) {
          files = all.filter((f) => f.instance === instance);
          if (files.length === 0)
            throw new ApiError(404, 'unknown_instance', `no logs for instance "${instance}"`);
        } else {
          const live = new Set(c.instances(p.name).map((i) => i.id));
          files = all.filter((f) => live.has(f.instance));
        }
        const tailLines = Math.min(Number(url.searchParams.get('tail') ?? 100) || 100, 100_000);
        await streamLogs(res, files, tailLines, url.searchParams.get('follow') === '1');
        return undefined;
      },
      READ,
    ],
    ...drillRoutes(c, need),
    ...limitsRoutes(c, need),
  ];
  return routes;
}

/** Every route the control API serves: the service routes plus tokens and audit (src/auth). */
export function allRoutes(c: Controller, security: Security): Route[] {
  return [
    ...apiRoutes(c),
    ...securityRoutes(security, () => c.services().map((s) => s.name)),
    ...sessionRoutes(security, c.config.control.dashboard),
  ];
}
