/** The control API's HTTP(S) server: match a route, guard it, answer JSON or a JSON error. */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Access, DEFAULT_ACCESS, READ } from '../auth/roles.ts';
import type { Controller } from '../controller/controller.ts';
import type { Logger } from '../log/logger.ts';
import { sendJson } from '../util/http-json.ts';
import type { Handler, Params } from './body.ts';
import { loadAssets, serveAsset } from './dashboard-static.ts';
import { ApiError } from './errors.ts';
import { Security } from './guard.ts';
import { setSecurityHeaders } from './headers.ts';
import { allRoutes, type Route } from './routes.ts';

/** The control API the CLI talks to (JSON over HTTP). */
export function createApiServer(
  c: Controller,
  log: Logger,
  first: Route[] | ((security: Security) => Route[]) = [],
): ApiServer {
  // Creates <dataDir>/admin.token on first start; every route but GET /healthz needs a token.
  const security = new Security(c.config.control.dataDir, log.child({ component: 'auth' }), {
    tls: c.config.control.tls !== undefined,
  });
  const routes = [...(typeof first === 'function' ? first(security) : first), ...allRoutes(c, security)];
  const assets = c.config.control.dashboard ? loadAssets() : undefined;
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://control');
    setSecurityHeaders(res);
    if (assets && serveAsset(assets, req, res, url.pathname)) return;
    let matched: Handler | undefined;
    let params: Params = {};
    let access: Access = READ;
    let pathKnown = false;
    for (const [method, re, h, a] of routes) {
      const m = re.exec(url.pathname);
      if (!m) continue;
      pathKnown = true;
      if (method !== req.method) continue;
      matched = h;
      access = a ?? DEFAULT_ACCESS;
      try {
        params = Object.fromEntries(
          Object.entries(m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]),
        );
      } catch {
        matched = async () => {
          throw new ApiError(400, 'invalid_path', `invalid percent-encoding in ${url.pathname}`);
        };
      }
      break;
    }
    const handler: Handler =
      matched ??
      (async () => {
        throw pathKnown
          ? new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`)
          : new ApiError(404, 'not_found', `no such endpoint: ${url.pathname}`);
      });
    // Authenticate, authorize and audit around the dispatch (unknown paths need a token too).
    security
      .run(req, res, { method: req.method ?? 'GET', path: url.pathname, access, params }, () =>
        handler(req, res, params, url),
      )
      .then((body) => {
        if (body !== undefined && !res.headersSent)
          sendJson(res, res.statusCode === 200 ? 200 : res.statusCode, body);
      })
      .catch((err: unknown) => {
        const e =
          err instanceof ApiError
            ? err
            : new ApiError(500, 'internal', (err as Error)?.message ?? String(err));
        if (e.status >= 500) log.error('api request failed', { err: e.message, path: url.pathname });
        if (res.headersSent) return void res.end();
        sendJson(res, e.status, { error: { code: e.code, message: e.message, details: e.details } });
      });
  };
  const tls = c.config.control.tls;
  const server: ApiServer = tls
    ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handle)
    : http.createServer(handle);
  server.on('close', () => security.close());
  return server;
}

/** The control API server: plain HTTP, or HTTPS when control.tls is set. */
export type ApiServer = http.Server | https.Server;

/** Listens and resolves with the bound address. */
export function listen(server: ApiServer, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
