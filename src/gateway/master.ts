/**
 * The gateway master. Owns the listening socket (bound or inherited, never accepted on here) and hands the
 * SAME handle to every worker it forks, so a crashed worker, or a whole new generation of workers, takes
 * over the socket without a single refused or reset connection. Serves the admin API on a Unix socket,
 * persists the route table, re-forks crashed workers at once, and drains on stop.
 *
 * Its lifetime is not tied to whoever started it: no IPC with the controller.
 */
import type { ChildProcess } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import type http from 'node:http';
import net from 'node:net';
import type { Logger } from '../log/logger.ts';
import { type AdminTarget, type ReloadResult, type ServingResult, startAdmin } from './admin.ts';
import { ColdStart, routesEveryService } from './cold-start.ts';
import { RELOAD_TIMEOUT_MS, type WorkerHost, Workers } from './generation.ts';
import { onRelayed, relayRoutes, relayServing, reportReady, startSuccessor } from './handover.ts';
import { SERVING, type ServingState } from './health.ts';
import type { MasterToWorker } from './ipc.ts';
import { bindListenHandle, bindWhenFree, handleFromFd, type ServerHandle } from './listener.ts';
import { type CertificateStatus, MasterCertificates } from './master-certs.ts';
import type {
  CertificateMaterial,
  GatewaySettings,
  InflightReport,
  RouteTable,
  StatsReport,
} from './protocol.ts';
import { RoutesFile } from './routes-file.ts';
import { ServingFile, servingFileOf } from './serving-file.ts';
import { readSettingsFile, settingsForReload } from './settings.ts';

export type { ReloadResult, ServingResult } from './admin.ts';

/** How long a master started without an inherited socket waits for orphaned workers to release the port. */
const BIND_WAIT_MS = 15_000;
/** How much longer than shutdownTimeoutMs a worker gets to exit on stop before it is killed. */
const STOP_GRACE_MS = 3000;

/** How this master got its listening socket. */
export interface StartOptions {
  /** An inherited listening socket (`CUTOVER_LISTEN_FD`). */
  listenFd?: number;
  /** An inherited TLS listening socket (`CUTOVER_TLS_LISTEN_FD`, with `settings.tls`). */
  tlsListenFd?: number;
  /** Started by an old master (`CUTOVER_TAKEOVER=1`): take its admin socket over, report ready over IPC. */
  takeover?: boolean;
}

export class GatewayMaster implements WorkerHost, AdminTarget {
  settings: GatewaySettings;
  /** Re-read on reload (absent when constructed without a file, e.g. in unit tests). */
  readonly settingsFile: string | undefined;
  readonly logger: Logger;
  table: RouteTable = { version: 0, services: [] };
  readonly workers: Workers;
  readonly routesFile: RoutesFile;
  /** Whether the health check passes (admin `PUT /serving`), persisted so a restarted master keeps it. */
  #serving: ServingState = SERVING;
  readonly servingFile: ServingFile;
  #servingQueue: Promise<unknown> = Promise.resolve();
  /**
   * The bound server socket, kept for the master's whole life: re-forked workers get it, and a reload
   * hands it to a whole new generation of workers before the old one drains.
   */
  #handle: ServerHandle | null = null;
  #port = 0;
  /** The TLS listening socket (`settings.tls`), held the same way. */
  #tlsHandle: ServerHandle | null = null;
  #tlsPort = 0;
  /** Certificates in force (static files, ACME) and the ACME tokens the plain listener answers. */
  readonly certs: MasterCertificates;
  #admin: http.Server | null = null;
  #stopping = false;
  #ready = false;
  #routeQueue: Promise<unknown> = Promise.resolve();
  #reloadQueue: Promise<unknown> = Promise.resolve();
  /** Bound without an inherited socket while orphaned workers of a killed master still hold the port. */
  #waitingForPort = false;
  /** A new master this one re-executed (routes applied here are relayed to it). */
  #successor: ChildProcess | null = null;
  /** The admin socket path now belongs to a new master: do not unlink it on exit. */
  #handedOver = false;
  /** Cold start: connections wait in the backlog until every service has an instance (see #hold). */
  readonly #coldStart: ColdStart;

  constructor(settings: GatewaySettings, logger: Logger, settingsFile?: string) {
    this.settings = settings;
    this.logger = logger;
    this.settingsFile = settingsFile;
    this.workers = new Workers(this);
    this.routesFile = new RoutesFile(settings.routesFile, logger);
    this.servingFile = new ServingFile(servingFileOf(settings), logger);
    this.certs = new MasterCertificates(this, logger);
    this.#coldStart = new ColdStart(
      logger,
      () => this.workers.acceptAll(),
      () => this.table,
    );
  }

  get port(): number {
    return this.#port;
  }
  get tlsPort(): number {
    return this.#tlsPort;
  }
  get tlsHandle(): ServerHandle | null {
    return this.#tlsHandle;
  }
  get certificates(): CertificateMaterial[] {
    return this.certs.material;
  }
  get challengeTokens(): Record<string, string> {
    return this.certs.tokens;
  }
  certWanted(host: string): void {
    this.certs.wanted(host);
  }
  get stopping(): boolean {
    return this.#stopping;
  }
  get listenHandle(): ServerHandle | null {
    return this.#handle;
  }
  get holding(): boolean {
    return this.#coldStart.holding;
  }
  get serving(): ServingState {
    return this.#serving;
  }

  async start(opts: StartOptions = {}): Promise<void> {
    this.table = this.routesFile.load() ?? this.table;
    this.#serving = this.servingFile.load();
    // Certificate files are checked before any socket is taken: a broken one fails the start, loudly.
    await this.certs.loadStatic(true);
    if (this.settings.tls !== undefined) this.#bindTls(opts.tlsListenFd);
    // A new master taking over from an old one serves what the old one served: never held.
    const startupTimeoutMs = this.settings.startupTimeoutMs ?? 0;
    if (!opts.takeover && startupTimeoutMs > 0 && !routesEveryService(this.table))
      this.#coldStart.hold(startupTimeoutMs);
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
      onRelayed(
        (table) => {
          this.putRoutes(table).catch(() => {});
        },
        (state) => {
          this.setServing(state).catch(() => {});
        },
      );
    } else if (this.#admin === null) {
      await this.#startAdmin(false);
    }
    const listening: Promise<boolean>[] = [];
    const booted: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, this.settings.workers); i++) {
      listening.push(
        this.workers.fork(i, this.workers.generation, (slot) => booted.push(slot.booted), bound),
      );
    }
    if (bound !== undefined) {
      await Promise.all(booted);
      bootedAll();
      try {
        await bound;
      } catch (err) {
        this.#stopping = true;
        for (const slot of this.workers.slots) slot.child.kill('SIGKILL');
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
    const tls =
      this.#tlsHandle === null ? {} : { tlsListen: `${this.settings.tls!.listen.host}:${this.#tlsPort}` };
    process.stdout.write(
      `${JSON.stringify({ event: 'ready', listen, ...tls, admin: this.settings.adminSocket, pid: process.pid, workers: this.workers.size })}\n`,
    );
    this.certs.start(this.table);
    if (opts.takeover) reportReady(this.workers.size);
  }

  #bindTls(fd: number | undefined): void {
    const { host, port } = this.settings.tls!.listen;
    const { handle, port: bound } = fd !== undefined ? handleFromFd(fd) : bindListenHandle(host, port);
    this.#tlsHandle = handle;
    this.#tlsPort = bound;
    if (fd !== undefined) this.logger.info('using inherited TLS listening socket', { fd, port: bound });
  }

  async #waitForPort(): Promise<void> {
    const { host, port } = this.settings.listen;
    this.#waitingForPort = true;
    this.logger.warn('listen port in use (workers of a previous master?); waiting for it', { host, port });
    try {
      const { handle, port: bound } = await bindWhenFree(host, port, BIND_WAIT_MS);
      this.#handle = handle;
      this.#port = bound;
    } finally {
      this.#waitingForPort = false;
    }
  }

  #startAdmin(takeover: boolean): Promise<void> {
    return startAdmin(this.settings.adminSocket, takeover, this, this.logger).then((server) => {
      this.#admin = server;
    });
  }

  health(): Record<string, unknown> {
    const r = this.workers.view();
    return {
      ok: this.#ready && !this.#handedOver,
      workers: r.workerPids.length,
      version: this.table.version,
      pid: process.pid,
      workerPids: r.workerPids,
      generation: r.generation,
      retiringPids: r.retiring,
      ...(this.#tlsHandle === null ? {} : { tlsPort: this.#tlsPort }),
      ...(this.#waitingForPort ? { waitingForPort: true } : {}),
      ...(this.#coldStart.holding ? { holding: true } : {}),
      serving: this.#serving.serving,
    };
  }

  certificateStatus(): CertificateStatus[] {
    return this.certs.status();
  }

  renewCertificate(host: string): Promise<CertificateStatus> {
    return this.certs.renew(host);
  }

  /** A new generation of workers on the same socket, with the settings file as it is now (generation.ts). */
  reload(): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      if (this.#stopping || this.#handedOver) throw new Error('gateway is stopping');
      if (this.settingsFile !== undefined) this.settings = this.#reloadSettings(this.settingsFile);
      // Certificate files replaced on disk: the good ones are used from now on, a bad one keeps the old.
      const certificateErrors = await this.certs.loadStatic(false);
      // The serving generation gets the new set first: from the reload's answer on, no handshake, whichever
      // worker accepts it (one about to retire included), is served the replaced certificate.
      if (this.settings.tls !== undefined) await this.certs.push();
      const started = Date.now();
      const { ok, fresh, old } = await this.workers.replaceGeneration();
      if (!ok) {
        throw new Error(
          `new workers did not become ready within ${RELOAD_TIMEOUT_MS}ms or exited; see the log`,
        );
      }
      this.logger.info('gateway reloaded: new worker generation serves, the previous one drains', {
        generation: this.workers.generation,
        workers: fresh.map((w) => w.child.pid),
        retiring: old.map((w) => w.child.pid),
        tookMs: Date.now() - started,
      });
      return {
        pid: process.pid,
        ...this.workers.view(),
        ...(certificateErrors.length > 0 ? { certificateErrors } : {}),
      };
    };
    const p = this.#reloadQueue.then(run, run);
    this.#reloadQueue = p.catch(() => {});
    return p;
  }

  /** The settings file as it is now; fields that need a new socket or master keep their running value. */
  #reloadSettings(file: string): GatewaySettings {
    const { settings, kept } = settingsForReload(this.settings, readSettingsFile(file));
    if (kept.length > 0)
      this.logger.warn('reload cannot change these settings; restart the gateway', { kept });
    return settings;
  }

  /**
   * Re-executes the master (new code) without closing the socket (handover.ts); once the new master is
   * ready this one retires its workers and exits. Resolves with the new master's pid.
   */
  reexec(): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      if (this.#stopping || this.#handedOver) throw new Error('gateway is stopping');
      if (this.settingsFile === undefined) throw new Error('master reload needs a settings file');
      readSettingsFile(this.settingsFile); // fail early on a broken file
      const fd = this.#handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new Error('listening socket has no file descriptor');
      const tlsFd = this.#tlsHandle?.fd;
      const successor = await startSuccessor(this.settingsFile, fd, tlsFd, this.logger, (child) => {
        this.#successor = child;
      });
      this.#handedOver = true;
      this.logger.info('master re-exec: new master ready; draining this one', { successor: successor.pid });
      successor.child.unref();
      const retiring: number[] = [];
      for (const slot of this.workers.slots) if (slot.child.pid !== undefined) retiring.push(slot.child.pid);
      // Answer the admin request first, then leave.
      setImmediate(() => {
        this.stop('handed over to a new master').then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
      return { pid: successor.pid, generation: 1, workerPids: [], retiring };
    };
    const p = this.#reloadQueue.then(run, run);
    this.#reloadQueue = p.catch(() => {});
    return p;
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
      relayRoutes(this.#successor, table);
      await Promise.all([
        this.routesFile.save(table),
        this.workers.askAll(
          (id) => ({ type: 'routes', id, table }),
          () => {},
        ),
      ]);
      this.logger.info('route table applied', {
        version: table.version,
        services: table.services.length,
        workers: this.workers.size,
      });
      this.#coldStart.applied(table);
      this.certs.routed(table);
      return { version: table.version, ignored: false };
    };
    const p = this.#routeQueue.then(run, run);
    this.#routeQueue = p.catch(() => {});
    return p;
  }

  /**
   * The health check passes (`serving: true`) or fails from now on, in every worker (and in workers forked
   * later, a successor master and a restarted one: persisted first). Resolves once every worker applied it.
   */
  setServing(state: ServingState): Promise<ServingResult> {
    const run = async (): Promise<ServingResult> => {
      this.#serving = state;
      relayServing(this.#successor, state);
      await this.servingFile.save(state);
      const applied: number[] = [];
      await this.workers.askAll(
        (id) => ({ type: 'serving', id, state }),
        (msg, slot) => {
          if (msg.type === 'done' && slot.child.pid !== undefined) applied.push(slot.child.pid);
        },
      );
      const fields = { ...state, workers: applied.length };
      if (state.serving) this.logger.info('serving: the health check passes', fields);
      else this.logger.warn('not serving: the health check fails, requests are still served', fields);
      return { ...state, applied: applied.sort((a, b) => a - b) };
    };
    const p = this.#servingQueue.then(run, run);
    this.#servingQueue = p.catch(() => {});
    return p;
  }

  inflight(): Promise<InflightReport> {
    return this.workers.inflight();
  }

  stats(): Promise<StatsReport> {
    return this.workers.stats();
  }

  /** SIGTERM/SIGINT: workers drain and exit, then the master exits. */
  async stop(signal: string): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#coldStart.cancel();
    this.certs.stop();
    this.logger.info('gateway stopping', { signal, workers: this.workers.size });
    const exits: Promise<void>[] = [];
    for (const slot of this.workers.slots) {
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
      for (const slot of this.workers.slots) slot.child.kill('SIGKILL');
    }, this.settings.shutdownTimeoutMs + STOP_GRACE_MS);
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
