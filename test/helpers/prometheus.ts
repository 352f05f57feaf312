/**
 * Real Prometheus tools for tests (Debian package `prometheus`): `startPrometheus` runs a server with a
 * temp config and storage dir on a free loopback port, in its own process group (`stop()` kills the group
 * and removes the dir); `promtoolCheckMetrics` runs `promtool check metrics` on an exposition text.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/runtime/ports.ts';
import { spawnGroup, terminateGroup } from '../../src/runtime/process-group.ts';
import { sleep } from '../../src/util/sleep.ts';

export interface ScrapeTarget {
  /** `host:port` of the endpoint. */
  target: string;
  /** Default `/metrics`. */
  metricsPath?: string;
  /** A file holding a bearer token sent as `Authorization: Bearer ...`. */
  bearerTokenFile?: string;
  /** Job name (default `cutover`). */
  job?: string;
}

export interface PrometheusServer {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  /** Instant query through the HTTP API (`/api/v1/query`): the result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Polls `query(expr)` until `check` accepts the result (throws after timeoutMs). */
  waitFor(
    expr: string,
    check: (r: Array<{ metric: Record<string, string>; value: [number, string] }>) => boolean,
    timeoutMs?: number,
  ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Kills the process group, waits for the exit, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  stderr(): string;
}

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? 'promtool';

function yamlString(s: string): string {
  return JSON.stringify(s);
}

function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

/** Starts Prometheus scraping `targets` every `scrapeInterval` (default 1s); resolves once it is ready. */
export async function startPrometheus(opts: {
  targets: ScrapeTarget[];
  scrapeInterval?: string;
  readyTimeoutMs?: number;
}): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-prom-'));
  const interval = opts.scrapeInterval ?? '1s';
  const jobs = opts.targets.map((t, i) => {
    const lines = [
      `  - job_name: ${yamlString(t.job ?? (i === 0 ? 'cutover' : `cutover-${i}`))}`,
      `    scrape_interval: ${interval}`,
      `    scrape_timeout: ${interval}`,
      `    metrics_path: ${yamlString(t.metricsPath ?? '/metrics')}`,
    ];
    if (t.bearerTokenFile !== undefined) {
      lines.push(
        '    authorization:',
        '      type: Bearer',
        `      credentials_file: ${yamlString(t.bearerTokenFile)}`,
      );
    }
    lines.push('    static_configs:', `      - targets: [${yamlString(t.target)}]`);
    return lines.join('\n');
  });
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global:\n  scrape_interval: ${interval}\n  evaluation_interval: ${interval}\nscrape_configs:\n${jobs.join('\n')}\n`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawnGroup(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (err.length < 64 * 1024) err += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | null = null;
  child.once('error', (e) => {
    spawnError = e;
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.pid !== undefined && spawnError === null)
      await terminateGroup(child.pid, { graceMs: 5000, reapMs: 1000, leaderExited: exited });
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (spawnError !== null || child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus did not start: ${spawnError ?? `exit ${child.exitCode}`}\n${err}`);
    }
    try {
      if ((await getJson(`${url}/-/ready`)).status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within the timeout\n${err}`);
    }
    await sleep(100);
  }
  const query: PrometheusServer['query'] = async (expr) => {
    const r = await getJson(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = r.body as {
      status?: string;
      data?: { resultType?: string; result?: unknown };
      error?: string;
    };
    if (r.status !== 200 || body.status !== 'success') {
      throw new Error(`prometheus query ${expr}: ${r.status} ${body.error ?? JSON.stringify(r.body)}`);
    }
    if (body.data?.resultType !== 'vector') throw new Error(`query ${expr}: not a vector`);
    return body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
  };
  const waitFor: PrometheusServer['waitFor'] = async (expr, check, timeoutMs = 15_000) => {
    const end = Date.now() + timeoutMs;
    let last: Awaited<ReturnType<PrometheusServer['query']>> = [];
    for (;;) {
      last = await query(expr);
      if (check(last)) return last;
      if (Date.now() > end) {
        throw new Error(`prometheus: ${expr} never matched; last result ${JSON.stringify(last)}\n${err}`);
      }
      await sleep(250);
    }
  };
  return { url, query, waitFor, stop, stderr: () => err };
}

/** Runs `promtool check metrics` on `text` (stdin); code 0 = clean. */
export function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL_BIN, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin.end(text);
  });
}
