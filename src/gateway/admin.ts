/** The master's admin API on a Unix socket (see protocol.ts): route tables, counters, health, reloads. */
import { mkdirSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import { readBody, sendJson } from '../util/http-json.ts';
import { parseServing, type ServingState } from './health.ts';
import type { CertificateStatus } from './master-certs.ts';
import type { InflightReport, RouteTable, StatsReport } from './protocol.ts';
import { validateRouteTable } from './validate.ts';

const MAX_ADMIN_BODY = 16 * 1024 * 1024;
const MAX_SERVING_BODY = 4096;

/** What a reload did (answer of `POST /reload`). */
export interface ReloadResult {
  /** Pid of the master serving now (a new one after a master reload). */
  pid: number;
  generation: number;
  workerPids: number[];
  /** Workers of older generations still draining. */
  retiring: number[];
  /** Certificate files the reload refused (the certificates loaded before stay in force). */
  certificateErrors?: string[];
}

/** Answer of `PUT /serving`: the state in force and the workers that applied it. */
export interface ServingResult extends ServingState {
  applied: number[];
}

/** What the admin API serves (the master). */
export interface AdminTarget {
  readonly table: RouteTable;
  putRoutes(table: RouteTable): Promise<{ version: number; ignored: boolean }>;
  inflight(): Promise<InflightReport>;
  stats(): Promise<StatsReport>;
  /** The body of GET /healthz. */
  health(): Record<string, unknown>;
  reload(): Promise<ReloadResult>;
  reexec(): Promise<ReloadResult>;
  /** GET /certs: every certificate (static and ACME) with its state. */
  certificateStatus(): CertificateStatus[];
  /** POST /certs/renew?host=H: a forced ACME renewal; resolves when the new certificate serves. */
  renewCertificate(host: string): Promise<CertificateStatus>;
  /** GET /serving. */
  readonly serving: ServingState;
  /** PUT /serving: resolves once every worker applied it. */
  setServing(state: ServingState): Promise<ServingResult>;
}

/**
 * Listens on the admin socket. `takeover`: the path belongs to the old master that started us and is
 * replaced; otherwise a live socket there means another gateway runs (an error).
 */
export async function startAdmin(
  sock: string,
  takeover: boolean,
  target: AdminTarget,
  logger: Logger,
): Promise<http.Server> {
  mkdirSync(path.dirname(sock), { recursive: true });
  if (!takeover && (await isSocketAlive(sock))) {
    throw new Error(`admin socket ${sock} is in use: another gateway is running`);
  }
  await unlink(sock).catch(() => {});
  const server = http.createServer((req, res) => {
    handleAdmin(target, req, res).catch((err: Error) => {
      logger.error('admin request failed', { error: err, url: req.url });
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

async function handleAdmin(
  target: AdminTarget,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const url = (req.url ?? '/').split('?')[0];
  if (url === '/routes') {
    if (req.method === 'GET') return sendJson(res, 200, target.table);
    if (req.method !== 'PUT') return sendJson(res, 405, { error: 'use GET or PUT on /routes' });
    return putRoutes(target, req, res);
  }
  if (url === '/inflight' && req.method === 'GET') return sendJson(res, 200, await target.inflight());
  if (url === '/stats' && req.method === 'GET') return sendJson(res, 200, await target.stats());
  if (url === '/healthz' && req.method === 'GET') return sendJson(res, 200, target.health());
  if (url === '/certs' && req.method === 'GET')
    return sendJson(res, 200, { certificates: target.certificateStatus() });
  if (url === '/certs/renew') {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST on /certs/renew' });
    const host = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('host') ?? '';
    if (host === '') return sendJson(res, 400, { error: 'host is required: POST /certs/renew?host=NAME' });
    try {
      return sendJson(res, 200, await target.renewCertificate(host));
    } catch (err) {
      const e = err as Error & { status?: number };
      return sendJson(res, e.status ?? 502, { error: e.message });
    }
  }
  if (url === '/serving') {
    if (req.method === 'GET') return sendJson(res, 200, target.serving);
    if (req.method !== 'PUT') return sendJson(res, 405, { error: 'use GET or PUT on /serving' });
    return putServing(target, req, res);
  }
  if (url === '/reload') {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST on /reload' });
    const master = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('master');
    try {
      const r = master === '1' || master === 'true' ? await target.reexec() : await target.reload();
      return sendJson(res, 200, r);
    } catch (err) {
      return sendJson(res, 500, { error: (err as Error).message });
    }
  }
  return sendJson(res, 404, { error: `no such endpoint: ${req.method} ${url}` });
}

const NO_BODY = Symbol('no body');

/** The request's JSON body; NO_BODY once a 400 naming `what` was answered (unreadable or not JSON). */
async function jsonBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  maxBytes: number,
  what: string,
): Promise<unknown> {
  try {
    return JSON.parse(await readBody(req, maxBytes));
  } catch (err) {
    sendJson(res, 400, { error: `invalid ${what}: ${(err as Error).message}` });
    return NO_BODY;
  }
}

async function putRoutes(
  target: AdminTarget,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const body = await jsonBody(req, res, MAX_ADMIN_BODY, 'route table');
  if (body === NO_BODY) return;
  const result = validateRouteTable(body);
  if (!('table' in result)) {
    return sendJson(res, 400, {
      error: `invalid route table: ${result.errors.join('; ')}`,
      problems: result.errors,
    });
  }
  try {
    const applied = await target.putRoutes(result.table);
    return sendJson(
      res,
      200,
      applied.ignored ? { version: applied.version, ignored: true } : { version: applied.version },
    );
  } catch (err) {
    return sendJson(res, 503, { error: `route table not applied everywhere: ${(err as Error).message}` });
  }
}

async function putServing(
  target: AdminTarget,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const body = await jsonBody(req, res, MAX_SERVING_BODY, 'serving state');
  if (body === NO_BODY) return;
  const state = parseServing(body);
  if ('error' in state) return sendJson(res, 400, { error: `invalid serving state: ${state.error}` });
  try {
    return sendJson(res, 200, await target.setServing(state));
  } catch (err) {
    return sendJson(res, 503, { error: `serving state not applied everywhere: ${(err as Error).message}` });
  }
}

function isSocketAlive(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
