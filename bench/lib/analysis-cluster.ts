/**
 * A real `cutover up` for the analysis benchmark: generated config in a temp dir, the example service
 * (examples/app/server.mjs) through a small launcher so that any version name can be deployed, the
 * control API with the admin token from `<dataDir>/admin.token`, the gateway's admin socket, and CLI
 * calls. Every process it starts carries `CUTOVER_BENCH_RUN=<id>` in its environment; instances run
 * in their own process groups, so the final sweep finds them by that marker.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { RouteTable, StatsReport } from '../../src/gateway/protocol.ts';
import { freePort, type Managed, type Procs, sleep, tailOf } from './procs.ts';
import { REPO_ROOT } from './targets.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'cutover.mjs');
const MARKER = 'CUTOVER_BENCH_RUN';

export interface ClusterConfig {
  replicas: number;
  canaryReplicas: number;
  weight: number;
  analysisSeconds: number;
  gatewayWorkers: number;
  /** Error rate of stable (run.env.ERROR_RATE). */
  stableErrorRate: number;
  /** The service's `analysis:` block, indented for the service (4 spaces). */
  analysisYaml: string;
  /** A flow mapping for `strategy:` instead of the canary (weight, analysis step, 100 %). */
  strategyYaml?: string;
}

export interface StatusDoc {
  phase: string;
  message?: string;
  stable: { revision: number; version: string };
  rollout?: { to: number; kind: string; phase?: string };
  lastRollout?: { to: number; kind: string; phase: string; reason?: string; message?: string };
  weights?: { stable: number; canary: number };
  analysis?: Array<{ kind: string; phase: string; message: string }>;
}

export interface CliResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

function canaryStrategy(c: ClusterConfig): string {
  const steps = `[ { setWeight: ${c.weight} }, { analysis: { duration: ${c.analysisSeconds}s } }, { setWeight: 100 } ]`;
  return `{ type: canary, canaryReplicas: ${c.canaryReplicas}, steps: ${steps} }`;
}

export class BenchCluster {
  readonly id = randomUUID();
  readonly configFile: string;
  readonly dataDir: string;
  gatewayPort = 0;
  controlPort = 0;
  proc?: Managed;

  private readonly procs: Procs;
  readonly dir: string;

  constructor(procs: Procs, dir: string) {
    this.procs = procs;
    this.dir = dir;
    this.configFile = path.join(dir, 'cutover.yaml');
    this.dataDir = path.join(dir, 'data');
  }

  async writeConfig(c: ClusterConfig): Promise<void> {
    this.gatewayPort = await freePort();
    this.controlPort = await freePort();
    const app = path.join(this.dir, 'app.mjs');
    const serverUrl = new URL(`file://${path.join(REPO_ROOT, 'examples', 'app', 'server.mjs')}`).href;
    writeFileSync(
      app,
      `// Example service under any version name (benchmark launcher).\n` +
        `import { runService } from ${JSON.stringify(serverUrl)};\n` +
        `runService({ readyAfterMs: 300 });\n`,
    );
    writeFileSync(
      this.configFile,
      `gateway:
  listen: 127.0.0.1:${this.gatewayPort}
  workers: ${c.gatewayWorkers}
control:
  listen: 127.0.0.1:${this.controlPort}
  dataDir: ./data
services:
  web:
    route: { host: "*", pathPrefix: / }
    version: v1
    replicas: ${c.replicas}
    run:
      command: "${process.execPath} ${app} --port \${PORT} --version \${VERSION}"
      env: { ERROR_RATE: "${c.stableErrorRate}", EXTRA_LATENCY_MS: "0" }
    readiness: { path: /ready, interval: 200ms, timeout: 200ms, successThreshold: 1, failureThreshold: 3 }
    drainTimeout: 10s
    stopTimeout: 5s
    restartBackoff: 200ms
    restartBackoffMax: 1s
    strategy: ${c.strategyYaml ?? canaryStrategy(c)}
${c.analysisYaml}`,
    );
  }

  env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      [MARKER]: this.id,
      CUTOVER_ADDR: `127.0.0.1:${this.controlPort}`,
      CUTOVER_LOG_LEVEL: 'warn',
    };
    delete env.NODE_TEST_CONTEXT;
    return env;
  }

  /** Starts `cutover up` and waits until `web` is Healthy. */
  async up(timeoutMs = 30_000): Promise<void> {
    this.proc = this.procs.start('cutover-up', process.execPath, [BIN, 'up', '-c', this.configFile], {
      cwd: this.dir,
      env: this.env(),
      logFile: path.join(this.dir, 'up.log'),
    });
    const deadline = Date.now() + timeoutMs;
    let last = '';
    let exited: number | string | null = null;
    void this.proc.exited.then((c) => {
      exited = c;
    });
    while (Date.now() < deadline) {
      if (exited !== null) throw new Error(`cutover up exited (${exited}): ${tailOf(this.proc.logFile)}`);
      try {
        const s = await this.status();
        if (s.phase === 'Healthy') return;
        last = `phase ${s.phase}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`web not Healthy after ${timeoutMs} ms (${last}): ${tailOf(this.proc.logFile)}`);
  }

  adminToken(): string | undefined {
    try {
      return readFileSync(path.join(this.dataDir, 'admin.token'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** GET on the control API with the admin token. */
  api<T>(p: string): Promise<T> {
    const token = this.adminToken();
    return getJson<T>({
      host: '127.0.0.1',
      port: this.controlPort,
      path: p,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  }

  status(): Promise<StatusDoc> {
    return this.api<StatusDoc>('/v1/services/web');
  }

  /** The gateway's exact per-revision counters (admin socket). */
  stats(): Promise<StatsReport> {
    return getJson<StatsReport>({ socketPath: path.join(this.dataDir, 'gateway.sock'), path: '/stats' });
  }

  /** The route table the gateway serves (admin socket). */
  routes(): Promise<RouteTable> {
    return getJson<RouteTable>({ socketPath: path.join(this.dataDir, 'gateway.sock'), path: '/routes' });
  }

  /** Runs the CLI (`bin/cutover.mjs`) to completion. */
  async cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    // Carries the marker, so the final sweep kills it too if the benchmark is interrupted meanwhile.
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [BIN, ...args], { cwd: this.dir, env: this.env() });
      let stdout = '';
      let stderr = '';
      p.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
      });
      p.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
      });
      const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.on('error', (err) => {
        clearTimeout(t);
        resolve({ code: 'spawn-error', stdout, stderr: `${stderr}${err.message}` });
      });
      p.on('close', (code, signal) => {
        clearTimeout(t);
        resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
      });
    });
  }

  /** SIGTERM to `cutover up` (it stops its gateway and instances), then SIGKILL to anything left. */
  async shutdown(graceMs = 15_000): Promise<void> {
    if (this.proc) await this.procs.stop(this.proc, graceMs);
    killMarked(this.id);
  }

  /** Synchronous last resort (exit handler). */
  killSync(): void {
    killMarked(this.id);
  }
}

/** SIGKILL to every live process whose environment carries `MARKER=id` (a few rounds: forks race). */
export function killMarked(id: string): number {
  let killed = 0;
  for (let round = 0; round < 3; round++) {
    const pids = markedPids(id);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
  }
  return killed;
}

export function markedPids(id: string): number[] {
  const needle = `${MARKER}=${id}`;
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const d of entries) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'latin1');
      if (!env.split('\0').includes(needle)) continue;
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      if (!/\) Z /.test(stat)) out.push(Number(d));
    } catch {
      // gone or not ours
    }
  }
  return out;
}

function getJson<T>(opts: http.RequestOptions): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...opts, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) {
          reject(new Error(`GET ${opts.path}: ${res.statusCode} ${body.slice(0, 200)}`));
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${opts.path}: timeout`)));
    req.on('error', reject);
  });
}
