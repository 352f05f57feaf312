/**
 * The master's worker processes, by generation. Every worker of the current generation serves the shared
 * listening handle and is re-forked at once when it dies; a reload forks a whole new generation on the
 * same handle and, once each new worker listens, retires the old one (stop accepting, drain, exit). Also
 * the request/answer messages to all workers (routes, in-flight counts, counters).
 */
import { type ChildProcess, fork } from 'node:child_process';
import type net from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { ServingState } from './health.ts';
import type { MasterToWorker, WorkerToMaster } from './ipc.ts';
import type { ServerHandle } from './listener.ts';
import { gatewaySource } from './master-launch.ts';
import { isLimitAsk, MasterLimits } from './master-limits.ts';
import type {
  CertificateMaterial,
  GatewaySettings,
  InflightReport,
  ListenerCounters,
  RouteTable,
  ServiceStats,
  StatsReport,
} from './protocol.ts';
import { addExited, addStats } from './stats-sum.ts';
import { workerExecArgv } from './worker-flags.ts';
import { workerEntry } from './worker-js.ts';

const WORKER_PATH = gatewaySource('worker.ts');
const ACK_TIMEOUT_MS = 10_000;
/** How long a new generation of workers (or a new master) gets to become ready before a reload fails. */
export const RELOAD_TIMEOUT_MS = 30_000;
/** A worker that dies sooner than this after its start is crash-looping: it is re-forked after a pause. */
const CRASH_LOOP_MS = 1000;
const CRASH_LOOP_PAUSE_MS = 500;

export interface WorkerSlot {
  index: number;
  child: ChildProcess;
  /** Workers of older generations are retiring (draining); only the current one is re-forked. */
  generation: number;
  retiring: boolean;
  listening: boolean;
  /** Has its table but does not accept yet (cold start): `accept()` lets it. */
  held: boolean;
  /** Resolves when the process has loaded its code (or exited). */
  booted: Promise<void>;
  startedAt: number;
  /** The counters this worker reported last (kept when it exits, so sums stay monotonic). */
  lastStats?: Record<string, ServiceStats>;
  lastListeners?: ListenerCounters;
}

interface PendingAsk {
  waiting: Set<WorkerSlot>;
  onReply: (msg: WorkerToMaster, slot: WorkerSlot) => void;
  done: () => void;
}

/** What the workers need of their master (read when a worker is forked). */
export interface WorkerHost {
  readonly settings: GatewaySettings;
  readonly table: RouteTable;
  readonly listenHandle: ServerHandle | null;
  /** Cold start: new workers get the table but do not accept yet. */
  readonly holding: boolean;
  readonly stopping: boolean;
  readonly logger: Logger;
  /** The TLS listening socket (`settings.tls`), or null. */
  readonly tlsHandle: ServerHandle | null;
  /** The certificates and ACME tokens a new worker starts with. */
  readonly certificates: CertificateMaterial[];
  readonly challengeTokens: Record<string, string>;
  /** Whether the health check passes: a new worker knows before it accepts. */
  readonly serving: ServingState;
  /** A worker saw a TLS handshake for a host no certificate covers. */
  certWanted(host: string): void;
}

/** Pids of the workers (answer of `POST /reload` and part of `/healthz`). */
export interface GenerationView {
  generation: number;
  workerPids: number[];
  /** Workers of older generations still draining. */
  retiring: number[];
}

export class Workers {
  readonly host: WorkerHost;
  readonly slots = new Set<WorkerSlot>();
  generation = 1;
  #asks = new Map<number, PendingAsk>();
  #askSeq = 0;
  /** Last reported counters of exited workers (see StatsReport). */
  #exitedStats: Record<string, ServiceStats> = {};
  #exitedWorkers = 0;
  #exitedListeners: ListenerCounters = emptyListeners();
  /** Limits for the whole gateway (`limits.rate`, `maxConnectionsPerClient`), across generations. */
  readonly #limits = new MasterLimits<WorkerSlot>();

  constructor(host: WorkerHost) {
    this.host = host;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Forks a worker on the shared handle; resolves true once it listens, false if it exited first. */
  fork(
    index: number,
    generation: number,
    created?: (slot: WorkerSlot) => void,
    bound?: Promise<void>,
  ): Promise<boolean> {
    const script = workerEntry(WORKER_PATH, generation, (message, error) =>
      this.host.logger.warn(message, { error }),
    );
    const child = fork(script, [], {
      execPath: process.execPath,
      execArgv: workerExecArgv(),
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
      held: false,
      booted: new Promise<void>((resolve) => {
        onBooted = resolve;
      }),
      startedAt: Date.now(),
    };
    child.once('exit', () => onBooted());
    this.slots.add(slot);
    created?.(slot);
    const listening = new Promise<boolean>((resolve) => {
      child.on('message', (msg: WorkerToMaster) => {
        if (msg.type === 'booted') {
          onBooted();
          return;
        }
        if (msg.type === 'listening') {
          slot.listening = true;
          this.host.logger.info('worker listening', { worker: index, generation, pid: child.pid });
          resolve(true);
          return;
        }
        if (msg.type === 'held') {
          this.host.logger.info('worker holds connections (cold start)', {
            worker: index,
            generation,
            pid: child.pid,
          });
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
    child.on('error', (err) => this.host.logger.error('worker process error', { worker: index, error: err }));
    const sendInit = () => {
      if (!child.connected) return;
      const init: MasterToWorker = {
        type: 'init',
        settings: this.host.settings,
        table: this.host.table,
        generation,
        masterPid: process.pid,
        accept: !this.host.holding,
        serving: this.host.serving,
        ...(this.host.settings.tls === undefined ? {} : { certs: this.host.certificates }),
      };
      slot.held = !init.accept;
      this.#sendTlsHandle(child);
      child.send(init, this.host.listenHandle as unknown as net.Server);
      const tokens = this.host.challengeTokens;
      if (Object.keys(tokens).length > 0)
        child.send({ type: 'challenges', id: 0, tokens } satisfies MasterToWorker);
    };
    // The process boots (the slow part) while we wait for the port; init carries the socket.
    if (bound === undefined) sendInit();
    else bound.then(sendInit, () => {});
    return listening;
  }

  /**
   * Forks `settings.workers` processes of a new generation on the same handle (their code is read from
   * disk now), waits until each listens with the current table, then retires the previous generation.
   * False (the new workers killed, the old generation serving on) if any new worker exits or is not ready
   * within RELOAD_TIMEOUT_MS.
   */
  async replaceGeneration(): Promise<{ ok: boolean; fresh: WorkerSlot[]; old: WorkerSlot[] }> {
    const generation = this.generation + 1;
    const fresh: WorkerSlot[] = [];
    const forks: Promise<boolean>[] = [];
    for (let i = 0; i < Math.max(1, this.host.settings.workers); i++) {
      // Marked retiring until the switch: a new worker that dies during the reload is not re-forked.
      forks.push(this.fork(i, generation, (slot) => fresh.push(Object.assign(slot, { retiring: true }))));
    }
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      Promise.all(forks).then((r) => r.every(Boolean)),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), RELOAD_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!ok || this.host.stopping) {
      for (const slot of fresh) slot.child.kill('SIGKILL');
      return { ok: false, fresh, old: [] };
    }
    const old = [...this.slots].filter((w) => !fresh.includes(w));
    this.generation = generation;
    for (const slot of fresh) slot.retiring = false;
    for (const slot of old) this.retire(slot);
    return { ok: true, fresh, old };
  }

  view(): GenerationView {
    const workerPids: number[] = [];
    const retiring: number[] = [];
    for (const w of this.slots) {
      if (w.child.pid === undefined) continue;
      if (w.retiring) retiring.push(w.child.pid);
      else if (w.listening || w.held) workerPids.push(w.child.pid);
    }
    return { generation: this.generation, workerPids, retiring };
  }

  /** The cold start is over: every worker that holds connections starts accepting them. */
  acceptAll(): void {
    for (const slot of this.slots) {
      if (!slot.held) continue;
      slot.held = false;
      try {
        if (slot.child.connected) {
          this.#sendTlsHandle(slot.child);
          slot.child.send(
            { type: 'accept' } satisfies MasterToWorker,
            this.host.listenHandle as unknown as net.Server,
          );
        }
      } catch {
        // exiting: its replacement is forked accepting
      }
    }
  }

  /** The TLS handle goes in a message of its own, right before the one with the plain handle. */
  #sendTlsHandle(child: ChildProcess): void {
    if (this.host.tlsHandle === null) return;
    child.send(
      { type: 'tls-listener' } satisfies MasterToWorker,
      this.host.tlsHandle as unknown as net.Server,
    );
  }

  /** Tells a worker to stop accepting, drain and exit (it is not re-forked). */
  retire(slot: WorkerSlot): void {
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

  #onExit(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    this.slots.delete(slot);
    this.#limits.gone(slot);
    if (slot.lastStats !== undefined) {
      addStats(this.#exitedStats, slot.lastStats, false);
      if (slot.lastListeners !== undefined) addListeners(this.#exitedListeners, slot.lastListeners, false);
      this.#exitedWorkers++;
      slot.lastStats = undefined;
    }
    for (const [id, ask] of this.#asks) {
      if (ask.waiting.delete(slot) && ask.waiting.size === 0) {
        this.#asks.delete(id);
        ask.done();
      }
    }
    if (this.host.stopping || slot.retiring || slot.generation !== this.generation) {
      this.host.logger.info('worker exited', {
        worker: slot.index,
        generation: slot.generation,
        pid: slot.child.pid,
        code,
        signal,
      });
      return;
    }
    const lived = Date.now() - slot.startedAt;
    this.host.logger.error('worker exited; re-forking', {
      worker: slot.index,
      pid: slot.child.pid,
      code,
      signal,
      livedMs: lived,
    });
    // A crash loop (worker dies right after start) gets a short pause; otherwise re-fork at once.
    const delay = lived < CRASH_LOOP_MS ? CRASH_LOOP_PAUSE_MS : 0;
    const refork = () => {
      if (!this.host.stopping && slot.generation === this.generation)
        void this.fork(slot.index, slot.generation);
    };
    if (delay === 0) refork();
    else setTimeout(refork, delay);
  }

  #onReply(slot: WorkerSlot, msg: WorkerToMaster): void {
    if (msg.type === 'listening' || msg.type === 'booted' || msg.type === 'held') return;
    if (msg.type === 'cert-wanted') {
      this.host.certWanted(msg.host);
      return;
    }
    if (isLimitAsk(msg)) {
      const answer = this.#limits.handle(slot, msg, this.host.settings.workers);
      if (answer !== null && slot.child.connected) slot.child.send(answer);
      return;
    }
    // Answers to GET /stats and the worker's periodic push (id 0) both refresh the kept counters.
    if (msg.type === 'stats') {
      slot.lastStats = msg.services;
      if (msg.listeners !== undefined) slot.lastListeners = msg.listeners;
    }
    const ask = this.#asks.get(msg.id);
    if (ask === undefined || !ask.waiting.has(slot)) return;
    ask.onReply(msg, slot);
    ask.waiting.delete(slot);
    if (ask.waiting.size === 0) {
      this.#asks.delete(msg.id);
      ask.done();
    }
  }

  /** Sends a message to every connected worker and resolves once each replied (or exited). */
  askAll(
    make: (id: number) => MasterToWorker,
    onReply: (msg: WorkerToMaster, slot: WorkerSlot) => void,
  ): Promise<void> {
    const id = ++this.#askSeq;
    const msg = make(id);
    const waiting = new Set<WorkerSlot>();
    for (const slot of this.slots) {
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

  async inflight(): Promise<InflightReport> {
    const instances: Record<string, number> = {};
    await this.askAll(
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
    const listeners = emptyListeners();
    await this.askAll(
      (id) => ({ type: 'stats', id }),
      (msg) => {
        if (msg.type !== 'stats') return;
        workers++;
        addStats(services, msg.services);
        if (msg.listeners !== undefined) addListeners(listeners, msg.listeners, true);
      },
    );
    addExited(services, this.#exitedStats);
    addListeners(listeners, this.#exitedListeners, false);
    return { workers, exitedWorkers: this.#exitedWorkers, services, listeners };
  }
}

function emptyListeners(): ListenerCounters {
  return {
    tlsHandshakes: 0,
    tlsHandshakeErrors: 0,
    plainHttpOnTls: 0,
    h2SessionsOpened: 0,
    h2Sessions: 0,
    healthChecks: 0,
  };
}

/** Adds a worker's listener counters; `gauges`: also the open-session gauge (not for exited workers). */
function addListeners(into: ListenerCounters, add: ListenerCounters, gauges: boolean): void {
  into.tlsHandshakes += add.tlsHandshakes;
  into.tlsHandshakeErrors += add.tlsHandshakeErrors;
  into.plainHttpOnTls += add.plainHttpOnTls;
  into.h2SessionsOpened += add.h2SessionsOpened;
  // A worker of an older version reports no health checks.
  into.healthChecks += add.healthChecks ?? 0;
  if (gauges) into.h2Sessions += add.h2Sessions;
}
