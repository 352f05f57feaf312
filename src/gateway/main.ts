/**
 * Gateway master: `node src/gateway/main.ts --settings FILE`.
 *
 * Owns the listening socket (bound here, never accepted on here) and hands the SAME handle to every worker
 * it forks, so a crashed worker — or, later, a whole new generation of workers — can take over the socket
 * without a single refused connection. Serves the admin API (see protocol.ts) on a Unix socket, persists
 * the route table, re-forks crashed workers at once, and drains on SIGTERM/SIGINT.
 *
 * Its lifetime is not tied to whoever started it: no IPC with the parent, SIGHUP ignored, EPIPE on
 * stdout/stderr ignored.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { createLogger, type Logger } from '../log/logger.ts';
import type { MasterToWorker, WorkerToMaster } from './ipc.ts';
import type { GatewaySettings, InflightReport, RouteTable, ServiceStats, StatsReport } from './protocol.ts';
import { addExited, addStats } from './stats.ts';
import { validateRouteTable } from './validate.ts';

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
const ACK_TIMEOUT_MS = 10_000;
const MAX_ADMIN_BODY = 16 * 1024 * 1024;

interface WorkerSlot {
  index: number;
  child: ChildProcess;
  listening: boolean;
  startedAt: number;
  /** The counters this worker reported last (kept when it exits, so sums stay monotonic). */
  lastStats?: Record<string, ServiceStats>;
}

interface PendingAsk {
  waiting: Set<WorkerSlot>;
  onReply: (msg: WorkerToMaster) => void;
  done: () => void;
}

type ServerHandle = object;

/** Binds (but does not listen on, so this process never accepts) the shared server socket. */
function bindListenHandle(host: string, port: number): { handle: ServerHandle; port: number } {
  const create = (net as unknown as Record<string, unknown>)._createServerHandle as
    | ((address: string, port: number, addressType: number, fd: undefined, flags: number) => unknown)
    | undefined;
  if (typeof create !== 'function') throw new Error('this Node version lacks net._createServerHandle');
  const result = create(host, port, net.isIPv6(host) ? 6 : 4, undefined, 0);
  if (typeof result === 'number') {
    const code = getSystemErrorName(result);
    throw Object.assign(new Error(`cannot bind ${host}:${port}: ${code}`), { code });
  }
  const handle = result as { getsockname(out: Record<string, unknown>): number };
  const out: Record<string, unknown> = {};
  handle.getsockname(out);
  return { handle: handle as ServerHandle, port: out.port as number };
}

export class GatewayMaster {
  readonly settings: GatewaySettings;
  readonly logger: Logger;
  table: RouteTable = { version: 0, services: [] };
  readonly workers = new Set<WorkerSlot>();
  /**
   * The bound server socket, kept for the master's whole life: re-forked workers get it, and a future
   * reload can hand it to a whole new generation of workers before the old one drains.
   */
  #handle: ServerHandle | null = null;
  #port = 0;
  #admin: http.Server | null = null;
  #asks = new Map<number, PendingAsk>();
  #askSeq = 0;
  #stopping = false;
  #ready = false;
  #routeQueue: Promise<unknown> = Promise.resolve();
  #persistQueue: Promise<unknown> = Promise.resolve();
  /** Last reported counters of exited workers (see StatsReport). */
  #exitedStats: Record<string, ServiceStats> = {};
  #exitedWorkers = 0;

  constructor(settings: GatewaySettings, logger: Logger) {
    this.settings = settings;
    this.logger = logger;
  }

  async start(): Promise<void> {
    this.#loadTable();
    const { handle, port } = bindListenHandle(this.settings.listen.host, this.settings.listen.port);
    this.#handle = handle;
    this.#port = port;
    await this.#startAdmin();
    const listening: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, this.settings.workers); i++) listening.push(this.#fork(i));
    await Promise.all(listening);
    this.#ready = true;
    const host = this.settings.listen.host;
    const listen = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    this.logger.info('gateway ready', {
      listen,
      admin: this.settings.adminSocket,
      workers: this.workers.size,
    });
    process.stdout.write(
      `${JSON.stringify({ event: 'ready', listen, admin: this.settings.adminSocket, pid: process.pid, workers: this.workers.size })}\n`,
    );
  }

  get port(): number {
    return this.#port;
  }

  #loadTable(): void {
    let text: string;
    try {
      text = readFileSync(this.settings.routesFile, 'utf8');
    } catch {
      return; // first start
    }
    try {
      const result = validateRouteTable(JSON.parse(text));
      if ('table' in result) {
        this.table = result.table;
        this.logger.info('route table loaded', {
          file: this.settings.routesFile,
          version: this.table.version,
        });
      } else {
        this.logger.error('ignoring invalid persisted route table', {
          file: this.settings.routesFile,
          problems: result.errors,
        });
      }
    } catch (err) {
      this.logger.error('ignoring unreadable persisted route table', {
        file: this.settings.routesFile,
        error: err,
      });
    }
  }

  #fork(index: number): Promise<void> {
    const child = fork(WORKER_PATH, [], {
      execPath: process.execPath,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const slot: WorkerSlot = { index, child, listening: false, startedAt: Date.now() };
    this.workers.add(slot);
    const listening = new Promise<void>((resolve) => {
      child.on('message', (msg: WorkerToMaster) => {
        if (msg.type === 'listening') {
          slot.listening = true;
          this.logger.info('worker listening', { worker: index, pid: child.pid });
          resolve();
          return;
        }
        this.#onReply(slot, msg);
      });
      child.once('exit', (code, signal) => {
        resolve();
        this.#onExit(slot, code, signal);
      });
    });
    child.on('error', (err) => this.logger.error('worker process error', { worker: index, error: err }));
    const init: MasterToWorker = { type: 'init', settings: this.settings, table: this.table };
    child.send(init, this.#handle as net.Server);
    return listening;
  }

  #onExit(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(slot);
    if (slot.lastStats !== undefined) {
      addStats(this.#exitedStats, slot.lastStats, false);
      this.#exitedWorkers++;
      slot.lastStats = undefined;
    }
    for (const [id, ask] of this.#asks) {
      if (ask.waiting.delete(slot) && ask.waiting.size === 0) {
        this.#asks.delete(id);
        ask.done();
      }
    }
    if (this.#stopping) return;
    const lived = Date.now() - slot.startedAt;
    this.logger.error('worker exited; re-forking', {
      worker: slot.index,
      pid: slot.child.pid,
      code,
      signal,
      livedMs: lived,
    });
    // A crash loop (worker dies right after start) gets a short pause; otherwise re-fork at once.
    const delay = lived < 1000 ? 500 : 0;
    const refork = () => {
      if (!this.#stopping) void this.#fork(slot.index);
    };
    if (delay === 0) refork();
    else setTimeout(refork, delay);
  }

  #onReply(slot: WorkerSlot, msg: WorkerToMaster): void {
    if (msg.type === 'listening') return;
    // Answers to GET /stats and the worker's periodic push (id 0) both refresh the kept counters.
    if (msg.type === 'stats') slot.lastStats = msg.services;
    const ask = this.#asks.get(msg.id);
    if (ask === undefined || !ask.waiting.has(slot)) return;
    ask.onReply(msg);
    ask.waiting.delete(slot);
    if (ask.waiting.size === 0) {
      this.#asks.delete(msg.id);
      ask.done();
    }
  }

  /** Sends a message to every connected worker and resolves once each replied (or exited). */
  #askAll(make: (id: number) => MasterToWorker, onReply: (msg: WorkerToMaster) => void): Promise<void> {
    const id = ++this.#askSeq;
    const msg = make(id);
    const waiting = new Set<WorkerSlot>();
    for (const slot of this.workers) {
      if (!slot.child.connected) continue;
      try {
        slot.child.send(msg);
        waiting.add(slot);
      } catch {
        // exiting: its replacement starts with the current table
      }
    }
    if (waiting.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#asks.delete(id);
        reject(new Error(`${waiting.size} worker(s) did not answer within ${ACK_TIMEOUT_MS}ms`));
      }, ACK_TIMEOUT_MS);
      this.#asks.set(id, {
        waiting,
        onReply,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Applies a validated table everywhere; resolves with the version in force afterwards. */
  putRoutes(table: RouteTable): Promise<{ version: number; ignored: boolean }> {
    const run = async () => {
      if (table.version < this.table.version) {
        this.logger.warn('ignoring older route table', {
          version: table.version,
          current: this.table.version,
        });
        return { version: this.table.version, ignored: true };
      }
      this.table = table;
      await Promise.all([
        this.#persist(table),
        this.#askAll(
          (id) => ({ type: 'routes', id, table }),
          () => {},
        ),
      ]);
      this.logger.info('route table applied', {
        version: table.version,
        services: table.services.length,
        workers: this.workers.size,
      });
      return { version: table.version, ignored: false };
    };
    const p = this.#routeQueue.then(run, run);
    this.#routeQueue = p.catch(() => {});
    return p;
  }

  #persist(table: RouteTable): Promise<void> {
    const file = this.settings.routesFile;
    const write = async () => {
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}`;
      await writeFile(tmp, `${JSON.stringify(table, null, 2)}\n`);
      await rename(tmp, file);
    };
    const p = this.#persistQueue.then(write, write);
    this.#persistQueue = p.catch(() => {});
    return p;
  }

  async inflight(): Promise<InflightReport> {
    const instances: Record<string, number> = {};
    await this.#askAll(
      (id) => ({ type: 'inflight', id }),
      (msg) => {
        if (msg.type !== 'inflight') return;
        for (const [k, v] of Object.entries(msg.instances)) instances[k] = (instances[k] ?? 0) + v;
      },
    );
    return { instances };
  }

  /** Traffic counters summed over the workers that answer, plus the last counters of exited workers. */
  async stats(): Promise<StatsReport> {
    const services: Record<string, ServiceStats> = {};
    let workers = 0;
    await this.#askAll(
      (id) => ({ type: 'stats', id }),
      (msg) => {
        if (msg.type !== 'stats') return;
        workers++;
        addStats(services, msg.services);
      },
    );
    addExited(services, this.#exitedStats);
    return { workers, exitedWorkers: this.#exitedWorkers, services };
  }

  async #startAdmin(): Promise<void> {
    const sock = this.settings.adminSocket;
    mkdirSync(path.dirname(sock), { recursive: true });
    if (await isSocketAlive(sock)) {
      throw new Error(`admin socket ${sock} is in use: another gateway is running`);
    }
    await unlink(sock).catch(() => {});
    const server = http.createServer((req, res) => {
      this.#handleAdmin(req, res).catch((err: Error) => {
        this.logger.error('admin request failed', { error: err, url: req.url });
        if (!res.headersSent) sendJson(res, 500, { error: err.message });
        else res.destroy();
      });
    });
    this.#admin = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async #handleAdmin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/routes') {
      if (req.method === 'GET') return sendJson(res, 200, this.table);
      if (req.method !== 'PUT') return sendJson(res, 405, { error: 'use GET or PUT on /routes' });
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        return sendJson(res, 400, { error: `invalid route table: ${(err as Error).message}` });
      }
      const result = validateRouteTable(body);
      if (!('table' in result)) {
        return sendJson(res, 400, {
          error: `invalid route table: ${result.errors.join('; ')}`,
          problems: result.errors,
        });
      }
      try {
        const applied = await this.putRoutes(result.table);
        return sendJson(
          res,
          200,
          applied.ignored ? { version: applied.version, ignored: true } : { version: applied.version },
        );
      } catch (err) {
        return sendJson(res, 503, { error: `route table not applied everywhere: ${(err as Error).message}` });
      }
    }
    if (url === '/inflight' && req.method === 'GET') return sendJson(res, 200, await this.inflight());
    if (url === '/stats' && req.method === 'GET') return sendJson(res, 200, await this.stats());
    if (url === '/healthz' && req.method === 'GET') {
      const pids: number[] = [];
      for (const w of this.workers) if (w.listening && w.child.pid !== undefined) pids.push(w.child.pid);
      return sendJson(res, 200, {
        ok: this.#ready,
        workers: pids.length,
        version: this.table.version,
        pid: process.pid,
        workerPids: pids,
      });
    }
    return sendJson(res, 404, { error: `no such endpoint: ${req.method} ${url}` });
  }

  /** SIGTERM/SIGINT: workers drain and exit, then the master exits. */
  async stop(signal: string): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.logger.info('gateway stopping', { signal, workers: this.workers.size });
    const exits: Promise<void>[] = [];
    for (const slot of this.workers) {
      exits.push(new Promise((resolve) => slot.child.once('exit', () => resolve())));
      try {
        if (slot.child.connected) slot.child.send({ type: 'shutdown' } satisfies MasterToWorker);
        else slot.child.kill('SIGTERM');
      } catch {
        slot.child.kill('SIGTERM');
      }
    }
    const hardStop = setTimeout(() => {
      for (const slot of this.workers) slot.child.kill('SIGKILL');
    }, this.settings.shutdownTimeoutMs + 3000);
    await Promise.all(exits);
    clearTimeout(hardStop);
    await new Promise<void>((resolve) => (this.#admin ? this.#admin.close(() => resolve()) : resolve()));
    await unlink(this.settings.adminSocket).catch(() => {});
    this.logger.info('gateway stopped');
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

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ADMIN_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Problems with a settings object (empty when usable). */
export function checkSettings(s: unknown): string[] {
  if (typeof s !== 'object' || s === null) return ['settings must be a JSON object'];
  const o = s as Record<string, unknown>;
  const errors: string[] = [];
  const listen = o.listen as Record<string, unknown> | undefined;
  if (typeof listen !== 'object' || listen === null || typeof listen.host !== 'string') {
    errors.push('listen.host must be a string');
  } else if (
    !Number.isInteger(listen.port) ||
    (listen.port as number) < 0 ||
    (listen.port as number) > 65535
  ) {
    errors.push('listen.port must be an integer 0-65535');
  }
  if (!Number.isInteger(o.workers) || (o.workers as number) < 1)
    errors.push('workers must be an integer >= 1');
  for (const k of ['adminSocket', 'routesFile']) {
    if (typeof o[k] !== 'string' || o[k] === '') errors.push(`${k} must be a non-empty path`);
  }
  for (const k of [
    'connectTimeoutMs',
    'upstreamTimeoutMs',
    'upstreamIdleTimeoutMs',
    'clientIdleTimeoutMs',
    'requestHeadTimeoutMs',
    'maxBodyBytes',
    'retries',
    'ejectAfterFailures',
    'ejectForMs',
    'shutdownTimeoutMs',
  ]) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || (o[k] as number) < 0) {
      errors.push(`${k} must be a number >= 0`);
    }
  }
  return errors;
}

function parseArgs(argv: string[]): string {
  const i = argv.indexOf('--settings');
  const file = i === -1 ? undefined : argv[i + 1];
  if (!file) {
    process.stderr.write('usage: node src/gateway/main.ts --settings FILE\n');
    process.exit(2);
  }
  return file;
}

async function main(): Promise<void> {
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const logger = createLogger({ fields: { component: 'gateway', role: 'master', pid: process.pid } });
  const file = parseArgs(process.argv.slice(2));
  let settings: GatewaySettings;
  try {
    settings = JSON.parse(readFileSync(file, 'utf8')) as GatewaySettings;
  } catch (err) {
    logger.error('cannot read gateway settings', { file, error: err });
    process.exit(2);
  }
  const problems = checkSettings(settings);
  if (problems.length > 0) {
    logger.error('invalid gateway settings', { file, problems });
    process.exit(2);
  }
  const master = new GatewayMaster(settings, logger);
  const onSignal = (signal: string) => {
    master.stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => {});
  process.on('uncaughtException', (err) =>
    logger.error('gateway master error', { error: err, stack: err.stack }),
  );
  try {
    await master.start();
  } catch (err) {
    logger.error('gateway failed to start', { error: err });
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) void main();
