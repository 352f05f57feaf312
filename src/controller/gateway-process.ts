import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CutoverConfig } from '../config/types.ts';
import { bindListenHandle, type ServerHandle } from '../gateway/listener.ts';
import { masterLaunch } from '../gateway/master-launch.ts';
import type { GatewaySettings } from '../gateway/protocol.ts';
import type { Logger } from '../log/logger.ts';
import {
  processAlive,
  signalGroup,
  signalProcess,
  spawnGroup,
  waitProcessGone,
} from '../runtime/process-group.ts';
import { sleep } from '../util/sleep.ts';
import { GatewayClient } from './gateway-client.ts';
import { pruneRoutesFile } from './stale-routes.ts';

const GATEWAY_MAIN = fileURLToPath(new URL('../gateway/main.ts', import.meta.url));
/** How long a gateway gets to start listening. */
const GATEWAY_START_TIMEOUT_MS = 15_000;
/** How long a stopping gateway may take to finish in-flight requests. */
export const GATEWAY_SHUTDOWN_TIMEOUT_MS = 30_000;

/** How often the controller checks which master serves the admin socket (it changes on a master re-exec). */
const MONITOR_MS = 500;
/** Health checks in a row a live master may fail (1 s each) before it counts as hung and is replaced. */
const HUNG_AFTER_FAILURES = 3;

/**
 * The listening socket systemd passed to this process (socket activation: `LISTEN_PID` is our pid and
 * `LISTEN_FDS` >= 1; the first socket is fd 3), or undefined.
 */
export function systemdListenFd(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  if (env.LISTEN_PID !== String(pid)) return undefined;
  const n = Number(env.LISTEN_FDS);
  return Number.isInteger(n) && n >= 1 ? 3 : undefined;
}

/** How often a starting gateway is asked whether it serves yet. */
const START_POLL_MS = 50;
/** How long a stopping gateway may take beyond its shutdown timeout before its group is killed. */
const STOP_GRACE_MS = GATEWAY_SHUTDOWN_TIMEOUT_MS + 5_000;

/** The gateway settings derived from the config. */
export function gatewaySettings(config: CutoverConfig): GatewaySettings {
  const g = config.gateway;
  const dir = config.control.dataDir;
  return {
    listen: g.listen,
    workers: g.workers,
    adminSocket: path.join(dir, 'gateway.sock'),
    routesFile: path.join(dir, 'routes.json'),
    connectTimeoutMs: g.connectTimeoutMs,
    upstreamTimeoutMs: g.upstreamTimeoutMs,
    upstreamIdleTimeoutMs: g.upstreamIdleTimeoutMs,
    clientIdleTimeoutMs: g.clientIdleTimeoutMs,
    requestHeadTimeoutMs: g.requestHeadTimeoutMs,
    maxBodyBytes: g.maxBodyBytes,
    maxHeaderSize: g.maxHeaderBytes,
    maxHeaders: g.maxHeaders,
    trustedProxies: g.trustedProxies,
    accessLog: g.accessLog,
    retries: g.retries,
    ejectAfterFailures: g.ejectAfterFailures,
    ejectForMs: g.ejectForMs,
    shutdownTimeoutMs: GATEWAY_SHUTDOWN_TIMEOUT_MS,
    startupTimeoutMs: g.startupTimeoutMs,
    http2: g.http2,
    health: g.health,
    ...(g.maxConnections === undefined
      ? {}
      : { maxConnectionsPerWorker: Math.ceil(g.maxConnections / g.workers) }),
    ...(g.tls === undefined
      ? {}
      : {
          tls: {
            listen: g.tls.listen,
            // The default certificate first: the gateway serves the first one to names nothing matches.
            certificates: [...g.tls.certificates]
              .sort((a, b) => Number(b.default) - Number(a.default))
              .map((c) => ({ hosts: c.hosts, cert: c.cert, key: c.key })),
            ...(g.tls.acme === undefined ? {} : { acme: g.tls.acme }),
            redirectHttp: g.tls.redirectHttp,
            ...(g.tls.hstsSeconds === undefined ? {} : { hstsSeconds: g.tls.hstsSeconds }),
            handshakeTimeoutMs: g.tls.handshakeTimeoutMs,
            certDir: path.join(dir, 'certs'),
          },
        }),
  };
}

/**
 * Runs the gateway master as its own process group, so it keeps serving if the controller dies
 * and a Ctrl-C aimed at `cutover up` does not hit it before the controller has drained.
 *
 * The controller also holds the gateway's listening socket (from systemd socket activation, or bound
 * here) and hands it to every master it starts as fd 3 (`CUTOVER_LISTEN_FD`): when a master is killed,
 * its workers keep serving on that socket until the replacement's workers serve it too — no refused
 * connection. With `gateway.tls` the HTTPS socket is held and handed over the same way, as fd 4
 * (`CUTOVER_TLS_LISTEN_FD`). It follows the master's pid through the admin `/healthz` (a master re-exec
 * changes it) and writes it to `gateway.pid` through `onRestart`.
 */
export class GatewayProcess {
  readonly client: GatewayClient;
  private child?: ChildProcess;
  private stopping = false;
  private readonly settingsFile: string;
  private readonly routesFile: string;
  private readonly logFile: string;
  private readonly log: Logger;
  private readonly listen: { host: string; port: number };
  /** The listening socket handed to every master (null: none; the master binds it itself). */
  private listenHandle: ServerHandle | null = null;
  /** `gateway.tls.listen`, held the same way and handed over as fd 4 (undefined: no HTTPS listener). */
  private readonly tlsListen: { host: string; port: number } | undefined;
  private tlsHandle: ServerHandle | null = null;
  private readonly systemdFd: number | undefined;
  /** Called when the master changed (restarted or re-executed): persist `pid`, push routes. */
  onRestart?: () => void;

  constructor(config: CutoverConfig, log: Logger) {
    const settings = gatewaySettings(config);
    const dir = config.control.dataDir;
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    this.settingsFile = path.join(dir, 'gateway.json');
    this.routesFile = settings.routesFile;
    this.logFile = path.join(dir, 'logs', 'gateway.log');
    writeFileSync(this.settingsFile, JSON.stringify(settings, null, 2), { mode: 0o600 });
    this.client = new GatewayClient(settings.adminSocket);
    this.log = log;
    this.listen = settings.listen;
    this.tlsListen = settings.tls?.listen;
    this.systemdFd = systemdListenFd();
    if (this.systemdFd !== undefined) {
      log.info('gateway listener from systemd socket activation', { fd: this.systemdFd });
      // Not for our own children (the instances).
      delete process.env.LISTEN_FDS;
      delete process.env.LISTEN_PID;
      delete process.env.LISTEN_FDNAMES;
    }
  }

  /** Pid of a gateway master that is not our child (left by an earlier controller, or re-executed). */
  private attachedPid?: number;
  private monitor?: NodeJS.Timeout;
  private restarting = false;

  get pid(): number | undefined {
    return this.attachedPid ?? this.child?.pid;
  }

  /**
   * Uses the gateway an earlier controller left running (it kept serving meanwhile) when it
   * answers; otherwise kills what is left of it and starts a new one.
   */
  /**
   * `alive`: whether an instance recorded by the controller still runs. A new master (none answers)
   * starts without the routes of instances that are gone.
   */
  async ensure(
    previousPid: number | undefined,
    alive?: (instance: string) => boolean,
  ): Promise<'attached' | 'started'> {
    // After a master re-exec the pid file may be stale: the admin socket says who serves now.
    const h = await this.client.health();
    const running = h !== null && processAlive(h.pid) ? h.pid : undefined;
    if (running !== undefined) {
      this.attachedPid = running;
      this.log.info('attached to running gateway', { pid: running, previousPid });
      this.startMonitor();
      return 'attached';
    }
    // A hung master goes with its workers; the workers of a dead one keep serving until ours serves.
    if (previousPid && processAlive(previousPid)) signalGroup(previousPid, 'SIGKILL');
    if (alive) {
      const dropped = pruneRoutesFile(this.routesFile, alive);
      if (dropped.length > 0)
        this.log.info('routes of instances that are gone left out of the new gateway', {
          instances: dropped,
        });
    }
    await this.start();
    this.startMonitor();
    return 'started';
  }

  /**
   * Every MONITOR_MS: which master answers on the admin socket? A different live pid (master re-exec)
   * is adopted; a dead adopted master, or any master that stops answering (HUNG_AFTER_FAILURES health
   * checks in a row), is replaced at once.
   */
  private startMonitor(): void {
    clearInterval(this.monitor);
    let failures = 0;
    this.monitor = setInterval(async () => {
      if (this.stopping || this.restarting) return;
      const h = await this.client.health();
      if (this.stopping || this.restarting) return;
      const current = this.pid;
      if (h !== null && h.pid !== current && processAlive(h.pid)) {
        this.adopt(h.pid);
        failures = 0;
        return;
      }
      failures = h === null ? failures + 1 : 0;
      if (current === undefined) return;
      // A child's death is its 'exit' event's (which starts the next master); an adopted one's is seen here.
      const adopted = this.attachedPid !== undefined;
      const dead = adopted && !processAlive(current);
      if (!dead && failures < HUNG_AFTER_FAILURES) return;
      this.log.error(
        dead ? 'gateway master died; starting a new one' : 'gateway stopped answering; starting a new one',
        { pid: current },
      );
      failures = 0;
      // The master only: its workers keep serving on the socket until the new master's workers do.
      if (!dead) signalProcess(current, 'SIGKILL');
      if (!adopted) return;
      this.attachedPid = undefined;
      this.restart();
    }, MONITOR_MS);
    this.monitor.unref();
  }

  /** The settings file from a changed config (`apply` of reloadable gateway keys); the next reload reads it. */
  writeSettings(config: CutoverConfig): void {
    writeFileSync(this.settingsFile, JSON.stringify(gatewaySettings(config), null, 2), { mode: 0o600 });
  }

  /** Follows a master that replaced ours (master re-exec): it is not our child. */
  private adopt(pid: number): void {
    this.log.info('gateway master replaced; following the new one', { previous: this.pid, pid });
    this.attachedPid = pid;
    this.child = undefined;
    this.onRestart?.();
  }

  private restart(): void {
    if (this.restarting || this.stopping) return;
    this.restarting = true;
    this.start()
      .then(() => this.onRestart?.())
      .catch((err: unknown) => this.log.error('gateway restart failed', { err }))
      .finally(() => {
        this.restarting = false;
      });
  }

  /** Stops watching without stopping the gateway (`cutover up --keep-running`). */
  detach(): void {
    this.stopping = true;
    clearInterval(this.monitor);
    this.child?.removeAllListeners('exit');
    this.child?.unref();
    this.releaseListener();
  }

  /** The socket to hand to a new master: systemd's, or one bound here (undefined: the master binds). */
  private listenerFd(): number | undefined {
    if (this.systemdFd !== undefined) return this.systemdFd;
    if (this.listenHandle === null) {
      try {
        this.listenHandle = bindListenHandle(this.listen.host, this.listen.port).handle;
      } catch (err) {
        // EADDRINUSE: workers of a killed master still serve on it; the new master waits for the port.
        this.log.warn('cannot hold the gateway listener here; the gateway binds it', {
          error: (err as Error).message,
        });
        return undefined;
      }
    }
    return this.listenHandle.fd;
  }

  /**
   * The TLS socket to hand to a new master, bound here once (undefined: none, or the master binds it).
   * Held for the same reason as the plain one, and so that `listen: host:0` keeps its port across masters.
   */
  private tlsListenerFd(): number | undefined {
    if (this.tlsListen === undefined) return undefined;
    if (this.tlsHandle === null) {
      try {
        this.tlsHandle = bindListenHandle(this.tlsListen.host, this.tlsListen.port).handle;
      } catch (err) {
        this.log.warn('cannot hold the gateway TLS listener here; the gateway binds it', {
          error: (err as Error).message,
        });
        return undefined;
      }
    }
    return this.tlsHandle.fd;
  }

  private releaseListener(): void {
    this.listenHandle?.close();
    this.listenHandle = null;
    this.tlsHandle?.close();
    this.tlsHandle = null;
  }

  async start(): Promise<void> {
    const out = openSync(this.logFile, 'a');
    const fd = this.listenerFd();
    const tlsFd = this.tlsListenerFd();
    const launch = masterLaunch(GATEWAY_MAIN, (message, error) => this.log.warn(message, { error }));
    const env: NodeJS.ProcessEnv = { ...process.env, ...launch.env };
    if (fd !== undefined) env.CUTOVER_LISTEN_FD = '3';
    if (tlsFd !== undefined) env.CUTOVER_TLS_LISTEN_FD = '4';
    const stdio: Array<'ignore' | number> = ['ignore', out, out];
    if (fd !== undefined || tlsFd !== undefined) stdio.push(fd ?? 'ignore');
    if (tlsFd !== undefined) stdio.push(tlsFd);
    const child = spawnGroup(process.execPath, [launch.script, '--settings', this.settingsFile], {
      stdio,
      env,
    });
    this.child = child;
    this.attachedPid = undefined;
    let exited = false;
    child.on('exit', (code, signal) => {
      exited = true;
      if (this.stopping || this.child !== child) return; // replaced by a re-executed master: adopted
      this.child = undefined;
      // A master re-exec whose old master exits before the monitor noticed: follow the new one.
      void this.client.health().then((h) => {
        if (this.stopping) return;
        if (h !== null && h.pid !== child.pid && processAlive(h.pid)) {
          this.adopt(h.pid);
          return;
        }
        this.log.error('gateway exited; restarting', { code, signal });
        this.restart();
      });
    });
    const deadline = Date.now() + GATEWAY_START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`gateway exited at start; see ${this.logFile}`);
      // Ours, and serving (a master waiting for orphaned workers to release the port answers ok: false).
      const h = await this.client.health();
      if (h?.ok && h.pid === child.pid) {
        this.log.info('gateway ready', {
          pid: child.pid,
          inheritedListener: fd !== undefined,
          inheritedTlsListener: tlsFd !== undefined,
        });
        return;
      }
      await sleep(START_POLL_MS);
    }
    throw new Error(`gateway did not become ready within ${GATEWAY_START_TIMEOUT_MS}ms; see ${this.logFile}`);
  }

  /** SIGTERM: the gateway stops accepting, finishes in-flight requests and exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.monitor);
    // The master holds the socket too: it closes when the gateway's workers close it (refusing new ones).
    this.releaseListener();
    if (this.attachedPid) {
      const pid = this.attachedPid;
      signalProcess(pid, 'SIGTERM');
      await waitProcessGone(pid, STOP_GRACE_MS);
      signalGroup(pid, 'SIGKILL');
      return;
    }
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const pid = child.pid;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    if (!signalProcess(pid, 'SIGTERM')) return;
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), STOP_GRACE_MS);
    await done;
    clearTimeout(timer);
    signalGroup(pid, 'SIGKILL');
  }
}
