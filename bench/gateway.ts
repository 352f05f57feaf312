/**
 * `npm run bench`: the Cutover gateway against nginx, HAProxy and Caddy as reverse proxies (plain HTTP),
 * against nginx and Caddy over TLS, with traffic policies on and off (Cutover and nginx), and the memory
 * held per idle connection and per WebSocket (Cutover and nginx), in one run, with the same upstream, the
 * same load and the same worker count. `--help` lists the flags; bench/README.md explains the rows.
 *
 * Prints the tables, then a line `JSON:` followed by the JSON document (to the end of stdout), and writes
 * bench/results/latest.json.
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCaddy } from './lib/caddy.ts';
import { startGateway } from './lib/gateway-target.ts';
import { runMemoryRows } from './lib/memory-rows.ts';
import { ALL_TARGETS, parseOptions, type TargetName } from './lib/options.ts';
import { plainJson, plainText } from './lib/plain-report.ts';
import { type PlainRun, runPlainRows, type TargetResult } from './lib/plain-rows.ts';
import { runPolicyRows } from './lib/policy-rows.ts';
import { machineBusyPercent, Procs } from './lib/procs.ts';
import {
  type Env,
  REPO_ROOT,
  type Running,
  startHaproxy,
  startNginxProxy,
  startUpstreamNginx,
  startUpstreamNode,
  versionOf,
  which,
} from './lib/targets.ts';
import { type BenchCert, makeBenchCert } from './lib/tls-certs.ts';
import { runTlsRows, TLS_TARGETS, type TlsReport, type TlsRowName, type TlsTarget } from './lib/tls-rows.ts';

/** Load of the TLS rows. h2load: 16 connections x 10 streams (the brief's shape). */
const H2_CLIENTS = 16;
const H2_STREAMS = 10;
/** The handshake loop: 2 threads x 8 connections in flight, enough to keep one target worker busy. */
const HANDSHAKE_THREADS = 2;
const HANDSHAKE_CONCURRENCY = 8;

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function toolVersions(tools: Record<string, string | null>): Record<string, string> {
  const versions: Record<string, string> = { node: process.version };
  if (tools.wrk) versions.wrk = versionOf('wrk', ['-v']);
  if (tools.hey) {
    // hey has no --version flag: ask the package manager.
    const v = versionOf('dpkg-query', ['-W', '-f', '$' + '{Version}', 'hey']);
    versions.hey = /^\d/.test(v) ? `hey ${v}` : 'hey (version unknown)';
  }
  if (tools.nginx) versions.nginx = versionOf(tools.nginx, ['-v']);
  if (tools.haproxy) versions.haproxy = versionOf(tools.haproxy, ['-v']);
  if (tools.caddy) versions.caddy = versionOf(tools.caddy, ['version']);
  if (tools.h2load) versions.h2load = versionOf(tools.h2load, ['--version']);
  versions.openssl = versionOf('openssl', ['version']);
  return versions;
}

async function main(): Promise<number> {
  // The gateway's own default (`gateway.workers`: one per core) is what the memory rows show.
  const o = parseOptions(process.argv.slice(2), os.availableParallelism());
  const procs = new Procs();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-'));
  let cleaned = false;
  const cleanupSync = (): void => {
    if (cleaned) return;
    cleaned = true;
    procs.killAllSync();
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping every process`);
      void procs.stopAll().finally(() => {
        cleanupSync();
        process.exit(130);
      });
    });
  }

  const notes: string[] = [];
  const tools = {
    wrk: which('wrk'),
    hey: which('hey'),
    nginx: which('nginx'),
    haproxy: which('haproxy'),
    caddy: which('caddy'),
    h2load: which('h2load'),
  };
  if (!tools.wrk) throw new Error('wrk is not installed (apt-get install wrk): cannot measure throughput');
  const versions = toolVersions(tools);

  const env: Env = { procs, tmp, workers: o.workers };
  const plainRun = o.rows.includes('http');
  const tlsRows = o.rows.filter((r): r is TlsRowName => r === 'https' || r === 'handshakes' || r === 'h2');
  const results: TargetResult[] = plainRun
    ? o.targets.map((name) => ({ name, peakRounds: [], fixedRounds: [] }))
    : [];
  const tlsNames = tlsRows.length > 0 ? TLS_TARGETS.filter((t) => o.targets.includes(t)) : [];
  // Each target runs once, serving both its plain and its TLS rows (nginx, caddy, cutover).
  const cert: BenchCert | undefined = tlsNames.length > 0 ? makeBenchCert(tmp) : undefined;
  const started = new Map<TargetName, { running?: Running; skipped?: string }>();

  const busyBefore = await machineBusyPercent(1000);
  if (busyBefore !== null && busyBefore > 15) {
    const msg =
      `the machine was already ${busyBefore}% busy (all cores) before the benchmark started: ` +
      'other processes compete for CPU, so figures are noisy; rerun on an idle machine.';
    log(`warning: ${msg}`);
    notes.push(msg);
  }

  try {
    // Upstream: nginx `return 200 "ok"` (cheapest per request; see notes) or a node:http fallback. The
    // memory rows bring their own (a WebSocket one).
    let upstreamKind = 'none (memory rows only)';
    let upstream: Running | null = null;
    const needsUpstream = o.rows.some((r) => r !== 'memory');
    if (needsUpstream && tools.nginx) {
      upstream = await startUpstreamNginx(env, o.workers);
      upstreamKind = `nginx return 200 "ok", worker_processes ${o.workers}`;
      notes.push(
        `Upstream: a separate nginx (${o.workers} worker${o.workers > 1 ? 's' : ''}) answering \`return 200 "ok"\`; ` +
          'it does no I/O and costs a fraction of what any proxy spends per request (see the direct row: it serves ' +
          'about twice what nginx-as-proxy reaches), so it is never the bottleneck, and it is the same process ' +
          'for all targets. ' +
          'A node:http upstream would cap out near the proxies themselves (~20-30k req/s per core) and steal more CPU.',
      );
    } else if (needsUpstream) {
      upstream = await startUpstreamNode(env, o.workers);
      upstreamKind = `node:http (bench/upstream.ts), ${o.workers} process(es)`;
      notes.push(
        'nginx is missing: the upstream is the node:http fallback, which may itself limit throughput.',
      );
    }
    if (upstream) log(`upstream (${upstreamKind}) on ${upstream.url}`);
    const upstreamPgid = upstream?.proc.child.pid;

    const withTls = (n: TargetName): BenchCert | undefined =>
      (tlsNames as TargetName[]).includes(n) ? cert : undefined;
    for (const name of ALL_TARGETS) {
      if (!results.some((r) => r.name === name) && !(tlsNames as TargetName[]).includes(name)) continue;
      const s: { running?: Running; skipped?: string } = {};
      try {
        if (!upstream) continue;
        if (name === 'direct') s.running = upstream;
        else if (name === 'nginx') {
          if (!tools.nginx) s.skipped = 'nginx not installed (apt-get install nginx-light)';
          else s.running = await startNginxProxy(env, upstream.port, withTls(name));
        } else if (name === 'haproxy') {
          if (!tools.haproxy) s.skipped = 'haproxy not installed (apt-get install haproxy)';
          else s.running = await startHaproxy(env, upstream.port);
        } else if (name === 'caddy') {
          if (!tools.caddy) s.skipped = 'caddy not installed (apt-get install caddy)';
          else s.running = await startCaddy(env, upstream.port, withTls(name));
        } else if (name === 'cutover') {
          if (!existsSync(o.gateway)) s.skipped = `${path.relative(REPO_ROOT, o.gateway)} does not exist yet`;
          else s.running = await startGateway(env, upstream.port, { main: o.gateway, cert: withTls(name) });
        }
      } catch (err) {
        s.skipped = `failed to start: ${(err as Error).message}`;
      }
      started.set(name, s);
      if (s.skipped) log(`skip ${name}: ${s.skipped}`);
      else log(`${name} serving on ${[s.running?.url, s.running?.tlsUrl].filter(Boolean).join(' and ')}`);
    }
    for (const r of results) {
      const s = started.get(r.name);
      r.skipped = s?.skipped;
      if (s?.running) {
        r.url = s.running.url;
        r.pgid = s.running.proc.child.pid;
      }
    }

    let plain: PlainRun | null = null;
    if (plainRun) plain = await runPlainRows(procs, o, results, upstreamPgid, tools.hey !== null, notes, log);

    // TLS rows: the same certificate, upstream and worker count for nginx, Caddy and Cutover.
    let tls: TlsReport | null = null;
    if (tlsNames.length > 0) {
      const missing = [
        !tools.h2load && tlsRows.includes('h2') ? 'h2load (apt-get install nghttp2-client)' : null,
      ]
        .concat(!tools.hey && tlsRows.includes('https') ? 'hey (fixed-rate HTTPS latency)' : null)
        .filter((x): x is string => x !== null);
      if (missing.length > 0) throw new Error(`the TLS rows need ${missing.join(' and ')}`);
      const tlsTargets: TlsTarget[] = tlsNames.map((name) => {
        const st = started.get(name);
        const running = st?.running;
        const url = running?.tlsUrl;
        return {
          name,
          skipped: st?.skipped ?? (url === undefined ? 'no HTTPS listener' : undefined),
          url,
          port: url === undefined ? undefined : Number(new URL(url).port),
          pgid: running?.proc.child.pid,
          plainUrl: name === 'cutover' ? running?.url : undefined,
        };
      });
      const servername = cert?.servername ?? '';
      tls = await runTlsRows({
        procs,
        tmp,
        upstreamPgid,
        targets: tlsTargets,
        log,
        o: {
          ...o,
          rows: tlsRows,
          servername,
          h2: { clients: H2_CLIENTS, streams: H2_STREAMS, servername },
          handshakes: { concurrency: HANDSHAKE_CONCURRENCY, threads: HANDSHAKE_THREADS, servername },
        },
      });
    }

    const policy =
      o.rows.includes('policy') && upstream
        ? await runPolicyRows({ procs, env, o, upstream, upstreamPgid, hasNginx: tools.nginx !== null, log })
        : null;
    const memory = o.rows.includes('memory')
      ? await runMemoryRows({ procs, env, o, hasNginx: tools.nginx !== null, log })
      : null;

    // Report.
    if (plain) process.stdout.write(plainText(plain, o, upstreamKind, notes));
    if (tls) {
      const tlsNotes = tls.notes.map((n) => `  - ${n}`).join('\n');
      process.stdout.write(`${tls.text}\nTLS notes:\n${tlsNotes}\n\n`);
    }
    if (policy) process.stdout.write(`${policy.text}\n`);
    if (memory) process.stdout.write(`${memory.text}\n`);

    const doc = {
      benchmark: 'cutover-gateway',
      time: new Date().toISOString(),
      machine: {
        busyPercentBefore: busyBefore,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? '',
        platform: `${os.platform()} ${os.release()}`,
      },
      versions,
      options: {
        durationS: o.durationS,
        warmupS: o.warmupS,
        workers: o.workers,
        wrk: { threads: o.threads, connections: o.connections },
        heyConcurrency: o.heyConcurrency,
        quick: o.quick,
        rounds: o.rounds,
        memoryConnections: o.memoryConnections,
        memoryWorkers: o.memoryWorkers,
      },
      upstream: { kind: upstreamKind, url: upstream?.url ?? null },
      fixedRate: { rps: plain?.rate ?? null, from: plain?.rateBase?.from ?? null },
      targets: plain ? plainJson(plain) : [],
      rows: o.rows,
      verdicts: plain?.verdicts ?? [],
      notes,
      tls: tls?.json ?? null,
      policy: policy?.json ?? null,
      memory: memory?.json ?? null,
    };
    const json = JSON.stringify(doc, null, 2);
    // Everything after the `JSON:` line is one JSON document.
    process.stdout.write(`JSON:\n${json}\n`);
    const outDir = path.join(REPO_ROOT, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, 'latest.json'), `${json}\n`);
    log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))}`);
    return 0;
  } finally {
    await procs.stopAll();
    if (o.keep) log(`kept ${tmp}`);
    cleanupSync();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
