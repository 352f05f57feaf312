import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CutoverConfig } from '../config/types.ts';
import type { GatewaySettings } from '../gateway/protocol.ts';
import type { Logger } from '../log/logger.ts';
import { GatewayClient } from './gateway-client.ts';

const GATEWAY_MAIN = fileURLToPath(new URL('../gateway/main.ts', import.meta.url));
/** How long a gateway gets to start listening. */
const GATEWAY_START_TIMEOUT_MS = 15_000;
/** How long a stopping gateway may take to finish in-flight requests. */
export const GATEWAY_SHUTDOWN_TIMEOUT_MS = 30_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

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
    retries: g.retries,
    ejectAfterFailures: g.ejectAfterFailures,
    ejectForMs: g.ejectForMs,
    shutdownTimeoutMs: GATEWAY_SHUTDOWN_TIMEOUT_MS,
  };
}

/**
 * Runs the gateway master as its own process group, so it keeps serving if the controller dies
 * and a Ctrl-C aimed at `cutover up` does not hit it before the controller has drained.
 */
export class GatewayProcess {
  readonly client: GatewayClient;
  private child?: ChildProcess;
  private stopping = false;
  private readonly settingsFile: string;
  private readonly logFile: string;
  private readonly log: Logger;
  onRestart?: () => void;

  constructor(config: CutoverConfig, log: Logger) {
    const settings = gatewaySettings(config);
    const dir = config.control.dataDir;
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    this.settingsFile = path.join(dir, 'gateway.json');
    this.logFile = path.join(dir, 'logs', 'gateway.log');
    writeFileSync(this.settingsFile, JSON.stringify(settings, null, 2));
    this.client = new GatewayClient(settings.adminSocket);
    this.log = log;
  }

  /** Pid of a gateway left running by an earlier controller that we attached to. */
  private attachedPid?: number;
  private monitor?: NodeJS.Timeout;

  get pid(): number | undefined {
    return this.child?.pid ?? this.attachedPid;
  }

  /**
   * Uses the gateway an earlier controller left running (it kept serving meanwhile) when it
   * answers; otherwise kills what is left of it and starts a new one.
   */
  async ensure(previousPid: number | undefined): Promise<'attached' | 'started'> {
    if (previousPid && pidAlive(previousPid) && (await this.client.healthy())) {
      this.attachedPid = previousPid;
      this.log.info('attached to running gateway', { pid: previousPid });
      let failures = 0;
      this.monitor = setInterval(async () => {
        if (this.stopping || this.child) return;
        failures = (await this.client.healthy()) ? 0 : failures + 1;
        if (failures < 3) return;
        clearInterval(this.monitor);
        this.log.error('attached gateway stopped answering; starting a new one', { pid: this.attachedPid });
        killGroup(this.attachedPid);
        this.attachedPid = undefined;
        this.start()
          .then(() => this.onRestart?.())
          .catch((err: unknown) => this.log.error('gateway restart failed', { err }));
      }, 1000);
      return 'attached';
    }
    if (previousPid) killGroup(previousPid);
    await this.start();
    return 'started';
  }

  /** Stops watching without stopping the gateway (`cutover up --keep-running`). */
  detach(): void {
    this.stopping = true;
    clearInterval(this.monitor);
    this.child?.removeAllListeners('exit');
    this.child?.unref();
  }

  async start(): Promise<void> {
    const out = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [GATEWAY_MAIN, '--settings', this.settingsFile], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    this.child = child;
    let exited = false;
    child.on('exit', (code, signal) => {
      exited = true;
      if (this.stopping) return;
      this.log.error('gateway exited; restarting', { code, signal });
      setTimeout(() => {
        this.start()
          .then(() => this.onRestart?.())
          .catch((err: unknown) => this.log.error('gateway restart failed', { err }));
      }, 200);
    });
    const deadline = Date.now() + GATEWAY_START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`gateway exited at start; see ${this.logFile}`);
      if (await this.client.healthy()) {
        this.log.info('gateway ready', { pid: child.pid });
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`gateway did not become ready within ${GATEWAY_START_TIMEOUT_MS}ms; see ${this.logFile}`);
  }

  /** SIGTERM: the gateway stops accepting, finishes in-flight requests and exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.monitor);
    if (this.attachedPid) {
      const pid = this.attachedPid;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
      const deadline = Date.now() + GATEWAY_SHUTDOWN_TIMEOUT_MS + 5_000;
      while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      killGroup(pid);
      return;
    }
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, GATEWAY_SHUTDOWN_TIMEOUT_MS + 5_000);
    await done;
    clearTimeout(timer);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }
}
