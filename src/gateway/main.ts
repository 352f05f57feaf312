/**
 * Gateway master: `node src/gateway/main.ts --settings FILE`.
 *
 * Owns the listening socket (bound here, never accepted on here) and hands the SAME handle to every worker
 * it forks, so a crashed worker — or a whole new generation of workers — takes over the socket without a
 * single refused or reset connection. Serves the admin API (see protocol.ts) on a Unix socket, persists
 * the route table, re-forks crashed workers at once, and drains on SIGTERM/SIGINT.
 *
 * Reload (SIGHUP, `POST /reload`): re-reads the settings file, forks a new generation of workers (new code
 * from disk) on the same handle, waits until every one listens with the current table, then retires the
 * old generation (stop accepting, drain, exit). Master re-exec (SIGUSR2, `POST /reload?master=1`): starts a
 * new master that inherits the socket as fd 3 (`CUTOVER_LISTEN_FD`) plus an IPC channel; once it is ready
 * (workers listening, admin socket taken over) this master retires its workers and exits.
 * `CUTOVER_LISTEN_FD` is also how the controller hands over a socket it holds (systemd socket activation).
 *
 * Its lifetime is not tied to whoever started it: no IPC with the controller, EPIPE on stdout/stderr ignored.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { createLogger, type Logger } from '../log/logger.ts';
import type { MasterToWorker, NewMasterToOld, OldMasterToNew, WorkerToMaster } from './ipc.ts';
import type { GatewaySettings, InflightReport, RouteTable, ServiceStats, StatsReport } from './protocol.ts';
import { addExited, addStats } from './stats.ts';
import { validateRouteTable } from './validate.ts';

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
const MAIN_PATH = fileURLToPath(import.meta.url);
const ACK_TIMEOUT_MS = 10_000;
/** How long a new generation of workers (or a new master) gets to become ready before a reload fails. */
const RELOAD_TIMEOUT_MS = 30_000;
/** How long a master started without an inherited socket waits for orphaned workers to release the port. */
const BIND_WAIT_MS = 15_000;
const MAX_ADMIN_BODY = 16 * 1024 * 1024;

interface WorkerSlot {
  index: number;
  child: ChildProcess;
  /** Workers of older generations are retiring (draining); only the current one is re-forked. */
  generation: number;
  retiring: boolean;
  listening: boolean;
  /** Resolves when the process has loaded its code (or exited). */
  booted: Promise<void>;
  startedAt: number;
  /** The counters this worker reported last (kept when it exits, so sums stay monotonic). */
  lastStats?: Record<string, ServiceStats>;
}

interface PendingAsk {
  waiting: Set<WorkerSlot>;
  onReply: (msg: WorkerToMaster) => void;
  done: () => void;
}

/** A libuv TCP handle (what `net._createServerHandle` returns); `fd` is its file descriptor on Unix. */
export interface ServerHandle {
  fd?: number;
  getsockname(out: Record<string, unknown>): number;
  close(cb?: () => void): void;
}

type CreateServerHandle = (
  address: string | null,
  port: number,
  addressType: number,
  fd: number | undefined,
  flags: number,
) => unknown;

function createServerHandle(): CreateServerHandle {
  const create = (net as unknown as Record<string, unknown>)._createServerHandle as
    | CreateServerHandle
    | undefined;
  if (typeof create !== 'function') throw new Error('this Node version lacks net._createServerHandle');
  return create;
}

/**
 * The bound port. libuv reports a failed bind (EADDRINUSE) only here or at listen(): without this check a
 * worker's listen() on the unbound socket would silently pick a random port.
 */
function portOf(handle: ServerHandle): number {
  const out: Record<string, unknown> = {};
  const err = handle.getsockname(out);
  if (err !== 0 || typeof out.port !== 'number') {
    handle.close();
    const code = err !== 0 ? getSystemErrorName(err) : 'EINVAL';
    throw Object.assign(new Error(`listening socket unusable: ${code}`), { code });
  }
  return out.port;
}

/** Binds (but does not listen on, so this process never accepts) the shared server socket. */
export function bindListenHandle(host: string, port: number): { handle: ServerHandle; port: number } {
  const result = createServerHandle()(host, port, net.isIPv6(host) ? 6 : 4, undefined, 0);
  if (typeof result === 'number') {
    const code = getSystemErrorName(result);
    throw Object.assign(new Error(`cannot bind ${host}:${port}: ${code}`), { code });
  }
  const handle = result as ServerHandle;
  return { handle, port: portOf(handle) };
}

/** Wraps an inherited listening socket (fd from a previous master, the controller or systemd). */
export function handleFromFd(fd: number): { handle: ServerHandle; port: number } {
  const result = createServerHandle()(null, 0, 4, fd, 0);
  if (typeof result === 'number') {
    throw new Error(`cannot use inherited listening socket fd ${fd}: ${getSystemErrorName(result)}`);
  }
  const handle = result as ServerHandle;
  return { handle, port: portOf(handle) };
}

function readSettingsFile(file: string): GatewaySettings {
  const settings = JSON.parse(readFileSync(file, 'utf8')) as GatewaySettings;
  const problems = checkSettings(settings);
  if (problems.length > 0) throw new Error(`invalid gateway settings in ${file}: ${problems.join('; ')}`);
  return settings;
}

/** What a reload did (answer of `POST /reload`). */
export interface ReloadResult {
  /** Pid of the master serving now (a new one after a master reload). */
  pid: number;
  generation: number;
  workerPids: number[];
  /** Workers of older generations still draining. */
  retiring: number[];
}

/** How this master got its listening socket. */
export interface StartOptions {
  /** An inherited listening socket (`CUTOVER_LISTEN_FD`). */
  listenFd?: number;
  /** Started by an old master (`CUTOVER_TAKEOVER=1`): take its admin socket over, report ready over IPC. */
  takeover?: boolean;
}

export class GatewayMaster {
  settings: GatewaySettings;
  /** Re-read on reload (absent when constructed without a file, e.g. in unit tests). */
  readonly settingsFile: string | undefined;
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
  #generation = 1;
  #reloadQueue: Promise<unknown> = Promise.resolve();
  /** Bound without an inherited socket while orphaned workers of a killed master still hold the port. */
  #waitingForPort = false;
  /** A new master this one re-executed (routes applied here are relayed to it). */
  #successor: ChildProcess | null = null;
  /** The admin socket path now belongs to a new master: do not unlink it on exit. */
  #handedOver = false;

  constructor(settings: GatewaySettings, logger: Logger, settingsFile?: string) {
    this.settings = settings;
    this.logger = logger;
    this.settingsFile = settingsFile;
  }

  async start(opts: StartOptions = {}): Promise<void> {
    this.#loadTable();
    /** Set while the port is held by orphaned workers: our workers boot meanwhile and get it once bound. */
    let bound: Promise<void> | undefined;
    let bootedAll = () => {};
    if (opts.listenFd !== undefined) {
      const { handle, port } = handleFromFd(opts.listenFd);
      this.#handle = handle;
      this.#port = port;
      this.logger.info('using inherited listening socket', { fd: opts.listenFd, port });
    } else {
      try {
        const { handle, port } = bindListenHandle(this.settings.listen.host, this.settings.listen.port);
        this.#handle = handle;
        this.#port = port;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        // Workers of a killed master may still serve on the port (see worker.ts): announce ourselves on the
        // admin socket (they drain and release it when they see a new master) and retry the bind.
        await this.#startAdmin(false);
        // Only once our workers have booted do we announce that we wait for the port (the orphans then
        // release it): the port is closed for milliseconds, not for a worker's start-up time.
        bound = new Promise<void>((resolve) => {
          bootedAll = resolve;
        }).then(() => this.#waitForPort());
        bound.catch(() => {});
      }
    }
    if (opts.takeover) {
      // The old master keeps the admin socket until our workers listen: routes it applies meanwhile are
      // relayed over IPC (see OldMasterToNew).
      process.on('message', (msg: OldMasterToNew) => {
        if (msg.type === 'routes') this.putRoutes(msg.table).catch(() => {});
      });
    } else if (this.#admin === null) {
      await this.#startAdmin(false);
    }
    const listening: Promise<boolean>[] = [];
    const booted: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, this.settings.workers); i++) {
      listening.push(this.#fork(i, this.#generation, (slot) => booted.push(slot.booted), bound));
    }
    if (bound !== undefined) {
      await Promise.all(booted);
      bootedAll();
      try {
        await bound;
      } catch (err) {
        this.#stopping = true;
        for (const slot of this.workers) slot.child.kill('SIGKILL');
        throw err;
      }
    }
    await Promise.all(listening);
    if (opts.takeover) await this.#startAdmin(true);
    this.#ready = true;
    const host = this.settings.listen.host;
    const listen = net.isIPv6(host) ? `[${host}]:${this.#port}` : `${host}:${this.#port}`;
    this.logger.info('gateway ready', {
      listen,
      admin: this.settings.adminSocket,
      workers: this.workers.size,
    });
    process.stdout.write(
      `${JSON.stringify({ event: 'ready', listen, admin: this.settings.adminSocket, pid: process.pid, workers: this.workers.size })}\n`,
    );
    if (opts.takeover && process.send) {
      process.send({ type: 'ready', pid: process.pid, workers: this.workers.size } satisfies NewMasterToOld);
    }
  }

  async #waitForPort(): Promise<void> {
    const { host, port } = this.settings.listen;
    this.#waitingForPort = true;
    this.logger.warn('listen port in use (workers of a previous master?); waiting for it', { host, port });
    const deadline = Date.now() + BIND_WAIT_MS;
    try {
      for (;;) {
        await new Promise((r) => setTimeout(r, 10));
        try {
          const { handle, port: bound } = bindListenHandle(host, port);
          this.#handle = handle;
          this.#port = bound;
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
        }
      }
    } finally {
      this.#waitingForPort = false;
    }
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

  /** Forks a worker on the shared handle; resolves true once it listens, false if it exited first. */
  #fork(
    index: number,
    generation: number,
    created?: (slot: WorkerSlot) => void,
    bound?: Promise<void>,
  ): Promise<boolean> {
    const child = fork(WORKER_PATH, [], {
      execPath: process.execPath,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let onBooted = () => {};
    const slot: WorkerSlot = {
      index,
      child,
      generation,
      retiring: false,
      listening: false,
      booted: new Promise<void>((resolve) => {
        onBooted = resolve;
      }),
      startedAt: Date.now(),
    };
    child.once('exit', () => onBooted());
    this.workers.add(slot);
    created?.(slot);
    const listening = new Promise<boolean>((resolve) => {
      child.on('message', (msg: WorkerToMaster) => {
        if (msg.type === 'booted') {
          onBooted();
          return;
        }
        if (msg.type === 'listening') {
          slot.listening = true;
          this.logger.info('worker listening', { worker: index, generation, pid: child.pid });
          resolve(true);
          return;
        }
        this.#onReply(slot, msg);
      });
      child.once('exit', (code, signal) => {
        resolve(false);
        this.#onExit(slot, code, signal);
      });
    });
    child.on('error', (err) => this.logger.error('worker process error', { worker: index, error: err }));
    const sendInit = () => {
      if (!child.connected) return;
      const init: MasterToWorker = {
        type: 'init',
        settings: this.settings,
        table: this.table,
        generation,
        masterPid: process.pid,
      };
      child.send(init, this.#handle as unknown as net.Server);
    };
    // The process boots (the slow part) while we wait for the port; init carries the socket.
    if (bound === undefined) sendInit();
    else bound.then(sendInit, () => {});
    return listening;
  }

  /**
   * A new generation of workers on the same socket: re-reads the settings file, forks `workers` new
   * processes (their code is read from disk now), waits until each listens with the current table, then
   * retires the previous generation. Fails (and leaves the old generation serving) if any new worker
   * exits or is not ready within RELOAD_TIMEOUT_MS.
   */
  reload(): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      if (this.#stopping || this.#handedOver) throw new Error('gateway is stopping');
      if (this.settingsFile !== undefined) this.settings = this.#reloadSettings(this.settingsFile);
      const generation = this.#generation + 1;
      const fresh: WorkerSlot[] = [];
      const started = Date.now();
      const forks: Promise<boolean>[] = [];
      for (let i = 0; i < Math.max(1, this.settings.workers); i++) {
        // Marked retiring until the switch: a new worker that dies during the reload is not re-forked.
        forks.push(this.#fork(i, generation, (slot) => fresh.push(Object.assign(slot, { retiring: true }))));
      }
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        Promise.all(forks).then((r) => r.every(Boolean)),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), RELOAD_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!ok || this.#stopping) {
        for (const slot of fresh) slot.child.kill('SIGKILL');
        throw new Error(
          `new workers did not become ready within ${RELOAD_TIMEOUT_MS}ms or exited; see the log`,
        );
      }
      const old = [...this.workers].filter((w) => !fresh.includes(w));
      this.#generation = generation;
      for (const slot of fresh) slot.retiring = false;
      for (const slot of old) this.#retire(slot);
      this.logger.info('gateway reloaded: new worker generation serves, the previous one drains', {
        generation,
        workers: fresh.map((w) => w.child.pid),
        retiring: old.map((w) => w.child.pid),
        tookMs: Date.now() - started,
      });
      return this.#reloadResult();
    };
    const p = this.#reloadQueue.then(run, run);
    this.#reloadQueue = p.catch(() => {});
    return p;
  }

  #reloadResult(): ReloadResult {
    const workerPids: number[] = [];
    const retiring: number[] = [];
    for (const w of this.workers) {
      if (w.child.pid === undefined) continue;
      if (w.retiring) retiring.push(w.child.pid);
      else if (w.listening) workerPids.push(w.child.pid);
    }
    return { pid: process.pid, generation: this.#generation, workerPids, retiring };
  }

  /** The settings file as it is now; fields that need a new socket or master keep their running value. */
  #reloadSettings(file: string): GatewaySettings {
    const next = readSettingsFile(file);
    const cur = this.settings;
    const kept: string[] = [];
    if (next.listen.host !== cur.listen.host || next.listen.port !== cur.listen.port) kept.push('listen');
    if (next.adminSocket !== cur.adminSocket) kept.push('adminSocket');
    if (next.routesFile !== cur.routesFile) kept.push('routesFile');
    if (kept.length > 0)
      this.logger.warn('reload cannot change these settings; restart the gateway', { kept });
    return { ...next, listen: cur.listen, adminSocket: cur.adminSocket, routesFile: cur.routesFile };
  }

  /** Tells a worker to stop accepting, drain and exit (it is not re-forked). */
  #retire(slot: WorkerSlot): void {
    slot.retiring = true;
    try {
      if (slot.child.connected) {
        slot.child.send({ type: 'retire' } satisfies MasterToWorker);
        return;
      }
    } catch {
      // fall through
    }
    slot.child.kill('SIGTERM');
  }

  /**
   * Re-executes the master (new code) without closing the socket: the new master inherits it as fd 3,
   * starts its workers, takes over the admin socket and reports ready over IPC; then this master retires
   * its workers and exits once they drained. Resolves with the new master's pid once it is ready.
   */
  reexec(): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      if (this.#stopping || this.#handedOver) throw new Error('gateway is stopping');
      if (this.settingsFile === undefined) throw new Error('master reload needs a settings file');
      readSettingsFile(this.settingsFile); // fail early on a broken file
      const fd = this.#handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new Error('listening socket has no file descriptor');
      const env: NodeJS.ProcessEnv = { ...process.env, CUTOVER_LISTEN_FD: '3', CUTOVER_TAKEOVER: '1' };
      delete env.NODE_CHANNEL_FD;
      const child = spawn(process.execPath, [MAIN_PATH, '--settings', this.settingsFile], {
        detached: true,
        stdio: ['ignore', 'inherit', 'inherit', fd, 'ipc'],
        env,
        serialization: 'json',
      });
      this.#successor = child;
      this.logger.info('master re-exec: new master starting on the inherited socket', { pid: child.pid });
      const ready = await new Promise<NewMasterToOld | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), RELOAD_TIMEOUT_MS);
        child.on('message', (msg: NewMasterToOld) => {
          if (msg.type !== 'ready') return;
          clearTimeout(timer);
          resolve(msg);
        });
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(null);
        });
      });
      if (ready === null) {
        this.#successor = null;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {}
        throw new Error('the new master did not become ready; the old one keeps serving (see the log)');
      }
      this.#handedOver = true;
      this.logger.info('master re-exec: new master ready; draining this one', { successor: ready.pid });
      child.unref();
      const retiring: number[] = [];
      for (const slot of this.workers) if (slot.child.pid !== undefined) retiring.push(slot.child.pid);
      // Answer the admin request first, then leave.
      setImmediate(() => {
        this.stop('handed over to a new master').then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
      return { pid: ready.pid, generation: 1, workerPids: [], retiring };
    };
    const p = this.#reloadQueue.then(run, run);
    this.#reloadQueue = p.catch(() => {});
    return p;
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
    if (this.#stopping || slot.retiring || slot.generation !== this.#generation) {
      this.logger.info('worker exited', {
        worker: slot.index,
        generation: slot.generation,
        pid: slot.child.pid,
        code,
        signal,
      });
      return;
    }
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
      if (!this.#stopping && slot.generation === this.#generation)
        void this.#fork(slot.index, slot.generation);
    };
    if (delay === 0) refork();
    else setTimeout(refork, delay);
  }

  #onReply(slot: WorkerSlot, msg: WorkerToMaster): void {
    if (msg.type === 'listening' || msg.type === 'booted') return;
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
      const successor = this.#successor;
      if (successor?.connected) {
        try {
          successor.send({ type: 'routes', table } satisfies OldMasterToNew);
        } catch {}
      }
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

  /** `takeover`: the socket path belongs to the old master that started us; replace it. */
  async #startAdmin(takeover: boolean): Promise<void> {
    const sock = this.settings.adminSocket;
    mkdirSync(path.dirname(sock), { recursive: true });
    if (!takeover && (await isSocketAlive(sock))) {
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
      const r = this.#reloadResult();
      return sendJson(res, 200, {
        ok: this.#ready && !this.#handedOver,
        workers: r.workerPids.length,
        version: this.table.version,
        pid: process.pid,
        workerPids: r.workerPids,
        generation: r.generation,
        retiringPids: r.retiring,
        ...(this.#waitingForPort ? { waitingForPort: true } : {}),
      });
    }
    if (url === '/reload') {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST on /reload' });
      const master = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('master');
      try {
        const r = master === '1' || master === 'true' ? await this.reexec() : await this.reload();
        return sendJson(res, 200, r);
      } catch (err) {
        return sendJson(res, 500, { error: (err as Error).message });
      }
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
        if (slot.child.connected)
          slot.child.send({ type: this.#handedOver ? 'retire' : 'shutdown' } satisfies MasterToWorker);
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
    // After a handover the admin path is the new master's: closing our (unlinked) admin server would make
    // libuv unlink the path, i.e. the new master's socket. It goes away with this process instead.
    if (!this.#handedOver) {
      await new Promise<void>((resolve) => (this.#admin ? this.#admin.close(() => resolve()) : resolve()));
      await unlink(this.settings.adminSocket).catch(() => {});
    }
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
    settings = readSettingsFile(file);
  } catch (err) {
    logger.error('cannot read gateway settings', { file, error: err });
    process.exit(2);
  }
  // How we were started: an inherited socket (old master, controller, systemd) and/or as a successor.
  const fdText = process.env.CUTOVER_LISTEN_FD;
  const takeover = process.env.CUTOVER_TAKEOVER === '1' && typeof process.send === 'function';
  delete process.env.CUTOVER_LISTEN_FD;
  delete process.env.CUTOVER_TAKEOVER;
  const listenFd = fdText !== undefined && /^\d+$/.test(fdText) ? Number(fdText) : undefined;
  // The IPC channel to an old master must not keep us alive or tie our lifetime to it.
  process.channel?.unref();
  process.on('disconnect', () => {});
  const master = new GatewayMaster(settings, logger, path.resolve(file));
  const onSignal = (signal: string) => {
    master.stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => {
    master.reload().catch((err: Error) => logger.error('reload failed', { error: err.message }));
  });
  process.on('SIGUSR2', () => {
    master.reexec().catch((err: Error) => logger.error('master re-exec failed', { error: err.message }));
  });
  process.on('uncaughtException', (err) =>
    logger.error('gateway master error', { error: err, stack: err.stack }),
  );
  try {
    await master.start({ listenFd, takeover });
  } catch (err) {
    logger.error('gateway failed to start', { error: err });
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) void main();
