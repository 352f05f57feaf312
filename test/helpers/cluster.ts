import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src/runtime/ports.ts';
import {
  processEnvironment,
  processesWithEnvironment,
  signalProcess,
  spawnGroup,
} from '../../src/runtime/process-group.ts';
import { sleep } from '../../src/util/sleep.ts';
import { startLoad } from './load.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'cutover.mjs');
/** Marks every process a test cluster starts (inherited through the environment) for the leak check. */
const MARKER = 'CUTOVER_TEST_RUN';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Instance ids (CUTOVER_INSTANCE) of live processes carrying `MARKER=id`. */
export function runningInstanceIds(id: string): Set<string> {
  const out = new Set<string>();
  for (const pid of markedPids(id)) {
    const inst = processEnvironment(pid)?.find((e) => e.startsWith('CUTOVER_INSTANCE='));
    if (inst) out.add(inst.slice('CUTOVER_INSTANCE='.length));
  }
  return out;
}

/** SIGKILLs every live process carrying `MARKER=id` (a few rounds, for children spawned meanwhile). */
export function killMarked(id: string): void {
  for (let round = 0; round < 3; round++) {
    const pids = markedPids(id);
    if (pids.length === 0) return;
    for (const pid of pids) signalProcess(pid, 'SIGKILL');
  }
}

/** Pids of live processes carrying `MARKER=id` in their environment. */
export function markedPids(id: string): number[] {
  return processesWithEnvironment(`${MARKER}=${id}`);
}

/** A second service (`api`, host api.test, one replica) for ClusterOptions.extraService. */
export const API_SERVICE = `  api:
    route: { host: "api.test", pathPrefix: / }
    version: v1
    replicas: 1
    run:
      command: "${process.execPath} ${ROOT}examples/releases/\${VERSION}/server.mjs --port \${PORT}"
    readiness: { path: /ready, interval: 200ms, timeout: 200ms, successThreshold: 1, failureThreshold: 2 }
    stopTimeout: 5s
    strategy: { type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 6s }
`;

/** Service block options for the generated config. */
export interface ClusterOptions {
  replicas?: number;
  version?: string;
  strategy?: string;
  extraService?: string;
  /** Extra keys of service `web`, as YAML lines indented by 4 spaces. */
  serviceYaml?: string;
  /** Serve the control API over HTTPS with these PEM files. */
  controlTls?: { cert: string; key: string };
  /** Extra keys of `control`, as YAML lines indented by 2 spaces. */
  controlYaml?: string;
  /** Extra top-level keys (e.g. notifications), as YAML. */
  topYaml?: string;
  gatewayWorkers?: number;
  /** Extra keys of `gateway`, as YAML lines indented by 2 spaces. */
  gatewayYaml?: string;
  drainTimeout?: string;
  /** Extra arguments for `cutover up`. */
  upArgs?: string[];
  /** YAML flow mapping for the service's `traffic` key. */
  traffic?: string;
  /** `gateway.tls` on 127.0.0.1:0 with these static certificates (the port: `Cluster.tlsPort` after up). */
  gatewayTls?: { certificates: Array<{ hosts: string[]; cert: string; key: string }> };
}

/** The `gateway.tls` block (indented for `gateway`) of ClusterOptions.gatewayTls. */
function gatewayTlsYaml(tls: ClusterOptions['gatewayTls']): string {
  if (tls === undefined) return '';
  const certs = tls.certificates
    .map((c) => `      - { hosts: ${JSON.stringify(c.hosts)}, cert: "${c.cert}", key: "${c.key}" }\n`)
    .join('');
  return `  tls:\n    listen: 127.0.0.1:0\n    certificates:\n${certs}`;
}

/**
 * A real `cutover up` on loopback with free ports, a temp data dir and the example service.
 * `stop()` shuts it down gracefully; `destroy()` kills whatever is left (always call it).
 */
export class Cluster {
  readonly id = randomUUID();
  readonly dir: string;
  readonly configFile: string;
  gatewayPort = 0;
  controlPort = 0;
  /** The loopback address this host's gateway and control API listen on (fleet tests: 127.0.0.2, .3 ...). */
  bindHost = '127.0.0.1';
  /** The gateway's HTTPS port (ClusterOptions.gatewayTls), learned from its admin /healthz; 0 without. */
  tlsPort = 0;
  private proc?: ChildProcess;
  upStderr = '';
  upExit?: Promise<number | null>;

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'cutover-e2e-'));
    this.configFile = path.join(this.dir, 'cutover.yaml');
  }

  /** PEM of the control API's certificate when it serves HTTPS (self-signed: its own CA). */
  tlsCa?: string;

  async writeConfig(o: ClusterOptions = {}): Promise<void> {
    this.tlsCa = o.controlTls ? readFileSync(o.controlTls.cert, 'utf8') : undefined;
    if (!this.gatewayPort || !this.controlPort) {
      const [g, c] = await freePorts(2);
      this.gatewayPort ||= g === this.controlPort ? c : g;
      this.controlPort ||= c === this.gatewayPort ? g : c;
    }
    const strategy = o.strategy ?? `{ type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 6s }`;
    writeFileSync(
      this.configFile,
      `gateway:
  listen: 127.0.0.1:${this.gatewayPort}
  workers: ${o.gatewayWorkers ?? 2}
${gatewayTlsYaml(o.gatewayTls)}${o.gatewayYaml ?? ''}control:
  listen: 127.0.0.1:${this.controlPort}
  dataDir: ./data
${o.controlTls ? `  tls: { cert: "${o.controlTls.cert}", key: "${o.controlTls.key}" }\n` : ''}${o.controlYaml ?? ''}services:
  web:
    route: { host: "*", pathPrefix: / }
    version: ${o.version ?? 'v1'}
    replicas: ${o.replicas ?? 4}
    run:
      command: "${process.execPath} ${ROOT}examples/releases/\${VERSION}/server.mjs --port \${PORT}"
      env: { APP_VERSION: "\${VERSION}" }
    readiness: { path: /ready, interval: 200ms, timeout: 200ms, successThreshold: 1, failureThreshold: 2 }
    drainTimeout: ${o.drainTimeout ?? '30s'}
    stopTimeout: 5s
    restartBackoff: 200ms
    restartBackoffMax: 1s
    strategy: ${strategy}
${o.traffic ? `    traffic: ${o.traffic}\n` : ''}${o.serviceYaml ?? ''}${o.extraService ?? ''}${o.topYaml ?? ''}`,
    );
  }

  env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      [MARKER]: this.id,
      CUTOVER_ADDR: `${this.bindHost}:${this.controlPort}`,
    };
    delete env.NODE_TEST_CONTEXT;
    return env;
  }

  /** Starts `cutover up` and waits until every instance of `web` is ready. */
  async up(o: ClusterOptions = {}): Promise<void> {
    await this.writeConfig(o);
    await this.launch(o.upArgs);
    await this.waitFor(
      async () => {
        const s = await this.status();
        return s.phase === 'Healthy';
      },
      20_000,
      'service web healthy after up',
    );
    await this.learnTlsPort();
  }

  /** Reads the HTTPS port the gateway serves (`tlsPort` in its /healthz) into `tlsPort`. */
  async learnTlsPort(): Promise<number> {
    const h = await this.gatewayAdmin<{ tlsPort?: number }>('/healthz');
    this.tlsPort = h.tlsPort ?? 0;
    return this.tlsPort;
  }

  /** Starts `cutover up` again on the same config and data (after a crash or --keep-running). */
  async restart(extraArgs: string[] = []): Promise<void> {
    await this.launch(extraArgs);
    await this.waitFor(async () => (await this.status()) !== undefined, 20_000, 'controller back');
  }

  protected async launch(extraArgs: string[] = []): Promise<void> {
    this.upStderr = '';
    const proc = spawnGroup(process.execPath, [BIN, 'up', '-c', this.configFile, ...extraArgs], {
      cwd: this.dir,
      env: this.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc = proc;
    proc.stderr?.on('data', (c: Buffer) => {
      this.upStderr += c.toString();
      if (process.env.CUTOVER_TEST_VERBOSE) process.stderr.write(c);
    });
    this.upExit = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  /** The admin token `cutover up` wrote to `<dataDir>/admin.token` (undefined before the first start). */
  adminToken(): string | undefined {
    try {
      return readFileSync(path.join(this.dir, 'data', 'admin.token'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * A control API request. `token`: sent as `Authorization: Bearer`; by default the admin token,
   * `null` for none.
   */
  async api<T>(
    method: string,
    p: string,
    body?: unknown,
    token: string | null = this.adminToken() ?? null,
  ): Promise<{ status: number; body: T; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = payload ? { 'content-type': 'application/json' } : {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const request = this.tlsCa ? https.request : http.request;
      const req = request(
        {
          host: this.bindHost,
          port: this.controlPort,
          method,
          path: p,
          agent: false,
          headers,
          ca: this.tlsCa,
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T, headers: res.headers });
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** The control API's `/metrics` text (with the admin token). */
  async metricsText(): Promise<string> {
    const token = this.adminToken();
    const res = await fetch(`http://${this.bindHost}:${this.controlPort}/metrics`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    if (res.status !== 200) throw new Error(`GET /metrics: status ${res.status}`);
    return res.text();
  }

  /** One GET through the gateway; resolves with status and the example service's version. */
  get(
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; version?: string; body: string }> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: this.bindHost, port: this.gatewayPort, path, headers, agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            let version: string | undefined;
            try {
              version = (JSON.parse(body) as { version?: string }).version;
            } catch {}
            resolve({ status: res.statusCode ?? 0, version, body });
          });
        })
        .on('error', reject);
    });
  }

  /** The gateway's traffic counters (admin API on its Unix socket). */
  gatewayStats(): Promise<GatewayStatsLike> {
    return this.gatewayAdmin<GatewayStatsLike>('/stats');
  }

  /** GET on the gateway's admin API. */
  gatewayAdmin<T>(p: string): Promise<T> {
    return new Promise((resolve, reject) => {
      http
        .get({ socketPath: path.join(this.dir, 'data', 'gateway.sock'), path: p, agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            try {
              resolve(JSON.parse(body) as T);
            } catch (err) {
              reject(err);
            }
          });
        })
        .on('error', reject);
    });
  }

  async status(): Promise<StatusLike> {
    return (await this.api<StatusLike>('GET', '/v1/services/web')).body;
  }

  /** After a restart: `count` instances (adopted or started) all ready. */
  async waitInstancesReady(count: number, what = 'adopted instances ready'): Promise<void> {
    await this.waitFor(
      async () => {
        const s = await this.status();
        return s.instances.length === count && s.instances.every((i) => i.state === 'ready');
      },
      20_000,
      what,
    );
  }

  async waitFor(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      try {
        if (await fn()) return;
      } catch (err) {
        lastErr = err;
      }
      await sleep(100);
    }
    throw new Error(
      `timed out waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}\n${this.upStderr.slice(-3000)}`,
    );
  }

  /** Runs the CLI as a child process. */
  cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [BIN, ...args], { cwd: this.dir, env: this.env() });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c) => (stdout += c));
      p.stderr.on('data', (c) => (stderr += c));
      const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code, stdout, stderr });
      });
    });
  }

  upPid(): number | undefined {
    return this.proc?.pid;
  }

  /** SIGTERM to `cutover up`; resolves with its exit code. */
  async stop(): Promise<number | null> {
    if (!this.proc?.pid || this.proc.exitCode !== null || this.proc.signalCode !== null) return null;
    signalProcess(this.proc.pid, 'SIGTERM');
    return this.upExit ?? null;
  }

  private readonly loads: Array<{ stop: () => Promise<unknown> }> = [];

  /** Registers a load started elsewhere (e.g. over TLS) so destroy() stops it if a test fails first. */
  track<L extends { stop: () => Promise<unknown> }>(load: L): L {
    this.loads.push(load);
    return load;
  }

  /** Steady load through this cluster's gateway; stopped by destroy() if a test fails first. */
  startLoad(opts: Parameters<typeof startLoad>[1] = {}): ReturnType<typeof startLoad> {
    const l = startLoad(this.gatewayPort, opts);
    this.loads.push(l);
    return l;
  }

  /**
   * The gateway's warning and error log lines (the last `maxChars`): what a failed client was told, for
   * a failure message (the log is gone with the temp dir once the test ends).
   */
  gatewayWarnings(maxChars = 4000): string {
    let log = '';
    try {
      log = readFileSync(path.join(this.dir, 'data', 'logs', 'gateway.log'), 'utf8');
    } catch (err) {
      return `(no gateway log: ${(err as Error).message})`;
    }
    const lines = log.split('\n').filter((l) => /"level":"(warn|error)"/.test(l));
    return lines.length === 0 ? '(no warnings)' : lines.join('\n').slice(-maxChars);
  }

  /** Kills every process this cluster started (by marker) and removes the temp dir. */
  destroy(): void {
    for (const l of this.loads) void l.stop();
    killMarked(this.id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface StatusLike {
  phase: string;
  weights?: { stable: number; canary: number };
  step?: { index: number; total: number; current: string; waitingFor?: string };
  mirror?: { percent: number };
  roles: Record<string, { revision: number; version: string; ready: number; instances: number } | undefined>;
  stable: { revision: number; version: string };
  rollout?: { to: number; kind: string; waitingFor?: string; switchedAt?: number };
  lastRollout?: { to: number; kind: string; phase: string };
  instances: Array<{ id: string; revision: number; version: string; state: string; pid?: number }>;
}

/** Every instance of the service runs `version`, and there is one at least: an empty list is not "all on v2". */
export function allOnVersion(s: StatusLike, version: string): boolean {
  return s.instances.length > 0 && s.instances.every((i) => i.version === version);
}

export interface GatewayStatsLike {
  services: Record<
    string,
    | {
        revisions: Record<
          string,
          { role?: string; requests: number; mirror?: { sent: number; skipped: number } } | undefined
        >;
      }
    | undefined
  >;
}

/** A Cluster that is stopped gracefully (bounded) and then destroyed when the test ends. */
export function useCluster(t: { after: (fn: () => void | Promise<void>) => void }): Cluster {
  const c = new Cluster();
  t.after(async () => {
    await Promise.race([c.stop(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    c.destroy();
  });
  return c;
}
