/**
 * `npm run bench`: the Cutover gateway against nginx and HAProxy as reverse proxies (plain HTTP), and
 * against nginx and Caddy over TLS, in one run, with the same upstream, the same load and the same
 * worker count.
 *
 *   node bench/gateway.ts [--duration 10s] [--workers N] [--quick] [--rounds 2] [--connections 64] [--threads 1]
 *                         [--hey-concurrency auto] [--targets direct,nginx,haproxy,caddy,cutover] [--keep]
 *                         [--rows http,https,handshakes,h2 | all | tls] [--gateway src/gateway/main.ts]
 *
 * Plain rows (`http`), per target: (a) peak throughput with wrk (after a short warmup), (b) latency
 * with hey at a fixed rate = half of the cutover peak, and the p99 added over `direct` at that rate.
 * TLS rows (`https`, `handshakes`, `h2`): see bench/lib/tls-rows.ts.
 * Prints a table, then a line `JSON:` followed by the JSON document (to the end of stdout), and writes
 * bench/results/latest.json.
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startCaddy } from './lib/caddy.ts';
import { fmtCpu, fmtInt, fmtMs, perCore, round, sum, table } from './lib/format.ts';
import { type Cpu, heyWorkers, runHey, runWrk, withCpu } from './lib/measure.ts';
import type { HeyResult, WrkResult } from './lib/parse.ts';
import { machineBusyPercent, Procs } from './lib/procs.ts';
import {
  type Env,
  GATEWAY_MAIN,
  REPO_ROOT,
  type Running,
  startGateway,
  startHaproxy,
  startNginxProxy,
  startUpstreamNginx,
  startUpstreamNode,
  versionOf,
  which,
} from './lib/targets.ts';
import { type BenchCert, makeBenchCert } from './lib/tls-certs.ts';
import {
  runTlsRows,
  TLS_ROWS,
  TLS_TARGETS,
  type TlsReport,
  type TlsRowName,
  type TlsTarget,
} from './lib/tls-rows.ts';

type TargetName = 'direct' | 'nginx' | 'haproxy' | 'caddy' | 'cutover';
const ALL_TARGETS: TargetName[] = ['direct', 'nginx', 'haproxy', 'caddy', 'cutover'];
/** The plain-HTTP rows' targets (Caddy is measured over TLS only). */
const PLAIN_TARGETS: TargetName[] = ['direct', 'nginx', 'haproxy', 'cutover'];
type RowName = 'http' | TlsRowName;
const ALL_ROWS: RowName[] = ['http', ...TLS_ROWS];
/** Load of the TLS rows. h2load: 16 connections x 10 streams (the brief's shape). */
const H2_CLIENTS = 16;
const H2_STREAMS = 10;
/** The handshake loop: 2 threads x 8 connections in flight, enough to keep one target worker busy. */
const HANDSHAKE_THREADS = 2;
const HANDSHAKE_CONCURRENCY = 8;

/** Spec targets (docs: gateway performance goals). */
const MIN_RPS_RATIO_VS_NGINX = 0.5;
const MAX_ADDED_P99_MS = 1;
/** CPU (% of one core) used by processes outside the benchmark above which a run is flagged. */
const FOREIGN_CPU_LIMIT = 25;

interface Options {
  durationS: number;
  warmupS: number;
  workers: number;
  connections: number;
  threads: number;
  /** null: auto (see heyWorkers). */
  heyConcurrency: number | null;
  targets: TargetName[];
  /** Which rows to measure: `http` (plain), `https`, `handshakes`, `h2`. */
  rows: RowName[];
  quick: boolean;
  /** Interleaved repetitions of each measurement; the best round counts. */
  rounds: number;
  keep: boolean;
  /** Gateway entry point (default src/gateway/main.ts). */
  gateway: string;
}

interface TargetResult {
  name: TargetName;
  url?: string;
  skipped?: string;
  /** Process group of the target (the proxy; the upstream for `direct`). */
  pgid?: number;
  peak?: WrkResult & { cpu: Cpu };
  peakRounds: (WrkResult & { cpu: Cpu })[];
  fixedRounds: (HeyResult & { targetRate: number; cpu: Cpu })[];
  fixed?: HeyResult & { targetRate: number; addedP99Ms: number | null; cpu: Cpu };
}

interface Verdict {
  name: string;
  requirement: string;
  value: number | null;
  pass: boolean | null;
  detail: string;
}

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`bad duration ${JSON.stringify(text)} (use e.g. 10s, 500ms, 1m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const seconds = unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : n;
  // wrk only takes whole seconds; 0 disables (used for --warmup 0).
  return seconds === 0 ? 0 : Math.max(1, Math.round(seconds));
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      workers: { type: 'string', default: '1' },
      connections: { type: 'string', default: '64' },
      threads: { type: 'string', default: '1' },
      'hey-concurrency': { type: 'string', default: 'auto' },
      targets: { type: 'string', default: ALL_TARGETS.join(',') },
      rows: { type: 'string', default: 'all' },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      keep: { type: 'boolean', default: false },
      gateway: { type: 'string', default: GATEWAY_MAIN },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node bench/gateway.ts [--duration 10s] [--workers N] [--quick] [--rounds 2] [--connections 64] [--threads 1]\n' +
        '                             [--hey-concurrency auto] [--targets direct,nginx,haproxy,caddy,cutover] [--keep]\n' +
        '                             [--rows http,https,handshakes,h2 | all | tls] [--gateway src/gateway/main.ts]\n',
    );
    process.exit(0);
  }
  const quick = values.quick;
  const durationS = parseDuration(values.duration ?? (quick ? '2s' : '10s'));
  const warmupS = parseDuration(values.warmup ?? (quick ? '1s' : '2s'));
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const targets = values.targets.split(',').map((t) => t.trim()) as TargetName[];
  for (const t of targets) {
    if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t} (known: ${ALL_TARGETS.join(', ')})`);
  }
  if (!targets.includes('direct')) targets.unshift('direct'); // the baseline for added latency
  const rows = new Set<RowName>();
  for (const raw of values.rows.split(',').map((x) => x.trim())) {
    if (raw === 'all') for (const r of ALL_ROWS) rows.add(r);
    else if (raw === 'tls') for (const r of TLS_ROWS) rows.add(r);
    else if ((ALL_ROWS as string[]).includes(raw)) rows.add(raw as RowName);
    else
      throw new Error(`--rows: unknown row ${JSON.stringify(raw)} (known: ${ALL_ROWS.join(', ')}, all, tls)`);
  }
  return {
    durationS,
    warmupS,
    workers: int('workers', values.workers),
    connections: int('connections', values.connections),
    threads: int('threads', values.threads),
    heyConcurrency:
      values['hey-concurrency'] === 'auto' ? null : int('hey-concurrency', values['hey-concurrency']),
    targets: ALL_TARGETS.filter((t) => targets.includes(t)),
    rows: ALL_ROWS.filter((r) => rows.has(r)),
    quick,
    rounds: int('rounds', values.rounds ?? (quick ? '1' : '2')),
    keep: values.keep,
    gateway: path.resolve(values.gateway),
  };
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
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
    node: process.version,
    wrk: which('wrk'),
    hey: which('hey'),
    nginx: which('nginx'),
    haproxy: which('haproxy'),
    caddy: which('caddy'),
    h2load: which('h2load'),
  };
  if (!tools.wrk) throw new Error('wrk is not installed (apt-get install wrk): cannot measure throughput');
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

  const env: Env = { procs, tmp, workers: o.workers };
  const plainRun = o.rows.includes('http');
  const tlsRows = o.rows.filter((r): r is TlsRowName => r !== 'http');
  const results: TargetResult[] = plainRun
    ? o.targets
        .filter((t) => PLAIN_TARGETS.includes(t))
        .map((name) => ({ name, peakRounds: [], fixedRounds: [] }))
    : [];
  const tlsNames = tlsRows.length > 0 ? TLS_TARGETS.filter((t) => o.targets.includes(t)) : [];
  // Each target runs once, serving both its plain and its TLS rows (nginx, cutover).
  const cert: BenchCert | undefined = tlsNames.length > 0 ? makeBenchCert(tmp) : undefined;
  const started = new Map<TargetName, { running?: Running; skipped?: string }>();
  const byName = (n: TargetName): TargetResult | undefined => results.find((r) => r.name === n);

  const busyBefore = await machineBusyPercent(1000);
  if (busyBefore !== null && busyBefore > 15) {
    const msg =
      `the machine was already ${busyBefore}% busy (all cores) before the benchmark started: ` +
      'other processes compete for CPU, so figures are noisy; rerun on an idle machine.';
    log(`warning: ${msg}`);
    notes.push(msg);
  }

  try {
    // Upstream: nginx `return 200 "ok"` (cheapest per request; see notes) or a node:http fallback.
    let upstreamKind: string;
    let upstream: Running;
    if (tools.nginx) {
      upstream = await startUpstreamNginx(env, o.workers);
      upstreamKind = `nginx return 200 "ok", worker_processes ${o.workers}`;
      notes.push(
        `Upstream: a separate nginx (${o.workers} worker${o.workers > 1 ? 's' : ''}) answering \`return 200 "ok"\`; ` +
          'it does no I/O and costs a fraction of what any proxy spends per request (see the direct row: it serves ' +
          'about twice what nginx-as-proxy reaches), so it is never the bottleneck, and it is the same process ' +
          'for all targets. ' +
          'A node:http upstream would cap out near the proxies themselves (~20-30k req/s per core) and steal more CPU.',
      );
    } else {
      upstream = await startUpstreamNode(env, o.workers);
      upstreamKind = `node:http (bench/upstream.ts), ${o.workers} process(es)`;
      notes.push(
        'nginx is missing: the upstream is the node:http fallback, which may itself limit throughput.',
      );
    }
    log(`upstream (${upstreamKind}) on ${upstream.url}`);
    const upstreamPgid = upstream.proc.child.pid;

    const withTls = (n: TargetName): BenchCert | undefined =>
      (tlsNames as TargetName[]).includes(n) ? cert : undefined;
    for (const name of ALL_TARGETS) {
      if (!results.some((r) => r.name === name) && !(tlsNames as TargetName[]).includes(name)) continue;
      const s: { running?: Running; skipped?: string } = {};
      try {
        if (name === 'direct') s.running = upstream;
        else if (name === 'nginx') {
          if (!tools.nginx) s.skipped = 'nginx not installed (apt-get install nginx-light)';
          else s.running = await startNginxProxy(env, upstream.port, withTls(name));
        } else if (name === 'haproxy') {
          if (!tools.haproxy) s.skipped = 'haproxy not installed (apt-get install haproxy)';
          else s.running = await startHaproxy(env, upstream.port);
        } else if (name === 'caddy') {
          if (!tools.caddy || !cert) s.skipped = 'caddy not installed (apt-get install caddy)';
          else s.running = await startCaddy(env, upstream.port, cert);
        } else if (name === 'cutover') {
          if (!existsSync(o.gateway)) s.skipped = `${path.relative(REPO_ROOT, o.gateway)} does not exist yet`;
          else s.running = await startGateway(env, upstream.port, o.gateway, withTls(name));
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

    // (a) Peak throughput: rounds interleave the targets; the best round counts (bursts of foreign
    // load only ever lower a figure), errors of every round are kept.
    for (let round = 1; round <= o.rounds; round++) {
      for (const r of results) {
        if (!r.url || (r.skipped && round > 1)) continue;
        if (round === 1 && o.warmupS > 0) await runWrk(procs, o, r.url, o.warmupS);
        log(
          `peak ${r.name} (round ${round}/${o.rounds}): wrk -t${o.threads} -c${o.connections} -d${o.durationS}s`,
        );
        try {
          const url = r.url;
          const w = await withCpu(r.pgid, upstreamPgid, (onSpawn) =>
            runWrk(procs, o, url, o.durationS, onSpawn),
          );
          r.peakRounds.push(w);
          if (!r.peak || w.rps > r.peak.rps) r.peak = w;
          log(`  ${fmtInt(w.rps)} req/s, p99 ${fmtMs(w.p99Ms)} ms, errors ${w.errors}, cpu ${fmtCpu(w.cpu)}`);
        } catch (err) {
          r.skipped = `wrk failed: ${(err as Error).message}`;
        }
      }
    }

    // Evidence that the upstream was not the bottleneck.
    const upstreamCpu = results
      .filter((r) => r.name !== 'direct' && r.peak)
      .map((r) => ({ name: r.name, cpu: r.peak?.cpu.upstream ?? 0 }));
    if (upstreamCpu.length > 0) {
      const max = Math.max(...upstreamCpu.map((u) => u.cpu));
      const direct = byName('direct')?.peak;
      notes.push(
        `While the proxies ran at peak, the upstream used at most ${max}% of ${o.workers} core(s) ` +
          `(${upstreamCpu.map((u) => `${u.name} ${u.cpu}%`).join(', ')})` +
          (direct ? `; alone it served ${fmtInt(direct.rps)} req/s at ${direct.cpu.target}%.` : '.'),
      );
    }

    // (b) Latency at a fixed rate = half of the cutover peak.
    const cut = byName('cutover');
    let rateBase: { from: string; rps: number } | null = null;
    if (cut?.peak) rateBase = { from: 'cutover', rps: cut.peak.rps };
    else if (plainRun) {
      const proxies = results.filter((r) => r.name !== 'direct' && r.peak);
      const slowest = proxies.sort((a, b) => (a.peak?.rps ?? 0) - (b.peak?.rps ?? 0))[0];
      const base = slowest ?? byName('direct');
      if (base?.peak) rateBase = { from: base.name, rps: base.peak.rps };
      notes.push(
        `cutover has no peak figure, so the fixed rate is half of the ${rateBase?.from ?? '?'} peak instead.`,
      );
    }
    const rate = rateBase ? Math.max(1, Math.floor(rateBase.rps / 2)) : 0;
    if (!tools.hey) notes.push('hey is not installed (apt-get install hey): fixed-rate latency skipped.');
    else if (rate > 0) {
      for (let round = 1; round <= o.rounds; round++) {
        for (const r of results) {
          if (!r.url || !r.peak) continue;
          log(
            `fixed rate ${r.name} (round ${round}/${o.rounds}): hey -z ${o.durationS}s at ${rate} req/s over ` +
              `${heyWorkers(rate, o.heyConcurrency)} workers`,
          );
          try {
            const url = r.url;
            const h = await withCpu(r.pgid, upstreamPgid, (onSpawn) => runHey(procs, o, url, rate, onSpawn));
            const run = { ...h, targetRate: rate, addedP99Ms: null };
            r.fixedRounds.push(run);
            // The round with the lowest p99 counts (same rule for every target, direct included).
            const p99 = (x: { p99Ms: number | null }): number => x.p99Ms ?? Number.POSITIVE_INFINITY;
            if (!r.fixed || p99(run) < p99(r.fixed)) r.fixed = run;
            log(
              `  ${fmtInt(h.rps)} req/s, p50 ${fmtMs(h.p50Ms)} ms, p99 ${fmtMs(h.p99Ms)} ms, errors ${h.errors}`,
            );
          } catch (err) {
            notes.push(`hey failed for ${r.name}: ${(err as Error).message}`);
          }
        }
      }
      const directP99 = byName('direct')?.fixed?.p99Ms ?? null;
      if (directP99 !== null && directP99 >= 0.5) {
        notes.push(
          `At ${fmtInt(rate)} req/s the direct p99 is already ${fmtMs(directP99)} ms: that is the floor of ` +
            'generator + kernel scheduling noise on this machine, and added-p99 figures carry noise of that order.',
        );
      }
      for (const r of results) {
        if (r.fixed && r.fixed.p99Ms !== null && directP99 !== null) {
          r.fixed.addedP99Ms = round(r.fixed.p99Ms - directP99, 4);
        }
        if (r.fixed && r.fixed.rps < 0.9 * rate) {
          notes.push(
            `${r.name}: hey reached only ${fmtInt(r.fixed.rps)} of the ${fmtInt(rate)} req/s asked for ` +
              '(the generator or the target could not keep up).',
          );
        }
      }
    }

    // Verdicts against the spec's targets.
    const nginxPeak = byName('nginx')?.peak?.rps ?? null;
    const cutPeak = cut?.peak?.rps ?? null;
    const cutAdded = cut?.fixed?.addedP99Ms ?? null;
    const rpsRatio = cutPeak !== null && nginxPeak ? cutPeak / nginxPeak : null;
    const cutPerCore = perCore(cut?.peak);
    const nginxPerCore = perCore(byName('nginx')?.peak);
    const perCoreRatio = cutPerCore !== null && nginxPerCore ? cutPerCore / nginxPerCore : null;
    const verdicts: Verdict[] = [
      {
        name: 'throughput',
        requirement: `cutover rps >= ${MIN_RPS_RATIO_VS_NGINX} x nginx rps (${o.workers} worker(s) each)`,
        value: round(rpsRatio, 3),
        pass: rpsRatio === null ? null : rpsRatio >= MIN_RPS_RATIO_VS_NGINX,
        detail:
          rpsRatio === null
            ? 'not measured (cutover or nginx missing)'
            : `${fmtInt(cutPeak)} vs ${fmtInt(nginxPeak)} req/s = ${rpsRatio.toFixed(2)} x nginx` +
              (perCoreRatio === null ? '' : ` (per core of CPU used: ${perCoreRatio.toFixed(2)} x)`),
      },
      {
        name: 'added-latency',
        requirement: `cutover added p99 < ${MAX_ADDED_P99_MS} ms at half of its peak rate`,
        value: cutAdded,
        pass: cutAdded === null ? null : cutAdded < MAX_ADDED_P99_MS,
        detail:
          cutAdded === null
            ? 'not measured (cutover missing or hey unavailable)'
            : `p99 ${fmtMs(cut?.fixed?.p99Ms)} ms - direct ${fmtMs(byName('direct')?.fixed?.p99Ms)} ms = ` +
              `${fmtMs(cutAdded)} ms at ${fmtInt(rate)} req/s`,
      },
    ];
    // CPU used by none of target, upstream and generator means foreign processes interfered.
    const noisy: string[] = [];
    for (const r of results) {
      for (const [phase, cpu] of [
        ['peak', r.peak?.cpu],
        ['fixed-rate', r.fixed?.cpu],
      ] as const) {
        if (cpu?.other != null && cpu.other > FOREIGN_CPU_LIMIT)
          noisy.push(`${r.name} ${phase} (${cpu.other}%)`);
      }
    }
    if (noisy.length > 0) {
      notes.push(
        `Foreign processes used more than ${FOREIGN_CPU_LIMIT}% of a core during: ${noisy.join(', ')}; ` +
          'those figures are disturbed, rerun on an idle machine.',
      );
    }
    for (const r of results) {
      const errs = sum(r.peakRounds.map((x) => x.errors)) + sum(r.fixedRounds.map((x) => x.errors));
      if (errs > 0) {
        const samples = r.fixed?.errorSamples.length ? ` (${r.fixed.errorSamples.join('; ')})` : '';
        notes.push(`${r.name}: ${errs} errors (non-2xx or socket errors)${samples}.`);
      }
    }
    notes.push(
      `All processes share ${os.cpus().length} CPU cores with the load generator (wrk -t${o.threads}, or hey), ` +
        'so absolute numbers are machine-specific; compare the rows, which share upstream, load and worker count.',
      'cpu% t/u/g/o = CPU used during the run, in % of one core: target process group / upstream / ' +
        'load generator / other processes on the machine (for direct the target is the upstream). ' +
        'Target + upstream + generator want more than the 2 cores, so every peak run is CPU-bound by design.',
      'rps/core = peak rps / CPU cores the target used: the cost per request, less sensitive to foreign ' +
        'load than raw rps.',
      'hey reports latencies with 0.1 ms resolution; added p99 is target p99 - direct p99 at the same fixed rate.',
      'Logging is off everywhere: nginx access_log off, HAProxy without log, cutover with CUTOVER_LOG_LEVEL=warn.',
    );

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
      tls = await runTlsRows({
        procs,
        tmp,
        upstreamPgid,
        targets: tlsTargets,
        log,
        o: {
          ...o,
          rows: tlsRows,
          servername: cert?.servername ?? '',
          h2: { clients: H2_CLIENTS, streams: H2_STREAMS, servername: cert?.servername ?? '' },
          handshakes: {
            concurrency: HANDSHAKE_CONCURRENCY,
            threads: HANDSHAKE_THREADS,
            servername: cert?.servername ?? '',
          },
        },
      });
    }

    // Report.
    const mark = (v: Verdict): string => (v.pass === null ? 'n/a' : v.pass ? 'PASS' : 'FAIL');
    const verdictCell = (r: TargetResult): string => {
      if (r.skipped && !r.peak) return `skipped: ${r.skipped.split('\n')[0].slice(0, 100)}`;
      if (r.name === 'cutover') {
        return (
          `rps ${rpsRatio === null ? '-' : rpsRatio.toFixed(2)}x nginx (>=${MIN_RPS_RATIO_VS_NGINX}: ${mark(verdicts[0])}); ` +
          `+p99 ${fmtMs(cutAdded)} ms (<${MAX_ADDED_P99_MS}: ${mark(verdicts[1])})`
        );
      }
      if (r.name === 'direct') return 'baseline';
      return nginxPeak && r.peak ? `${(r.peak.rps / nginxPeak).toFixed(2)}x nginx rps` : '';
    };
    const rows: string[][] = [
      [
        'target',
        'peak rps',
        'p50 ms',
        'p99 ms',
        'errors',
        'cpu% t/u/g/o',
        'rps/core',
        `@rate rps`,
        'p50 ms',
        'p99 ms',
        '+p99 ms',
        'errors',
        'cpu% t/u/g/o',
        'verdict',
      ],
    ];
    for (const r of results) {
      rows.push([
        r.name,
        fmtInt(r.peak?.rps),
        fmtMs(r.peak?.p50Ms),
        fmtMs(r.peak?.p99Ms),
        r.peak ? String(sum(r.peakRounds.map((x) => x.errors))) : '-',
        fmtCpu(r.peak?.cpu),
        fmtInt(perCore(r.peak)),
        fmtInt(r.fixed?.rps),
        fmtMs(r.fixed?.p50Ms),
        fmtMs(r.fixed?.p99Ms),
        r.fixed?.addedP99Ms === null || r.fixed?.addedP99Ms === undefined
          ? '-'
          : `${r.fixed.addedP99Ms >= 0 ? '+' : ''}${fmtMs(r.fixed.addedP99Ms)}`,
        r.fixed ? String(sum(r.fixedRounds.map((x) => x.errors))) : '-',
        fmtCpu(r.fixed?.cpu),
        verdictCell(r),
      ]);
    }
    const header =
      `Cutover gateway benchmark: ${o.workers} worker(s) per proxy, upstream ${upstreamKind}\n` +
      `peak: wrk -t${o.threads} -c${o.connections} -d${o.durationS}s (after ${o.warmupS}s warmup); ` +
      `fixed rate: hey -z ${o.durationS}s -c ${heyWorkers(rate, o.heyConcurrency)} at ${fmtInt(rate)} req/s ` +
      `(half of the ${rateBase?.from ?? '?'} peak)\n` +
      `${o.rounds} interleaved round(s) per measurement; the best counts (highest rps, lowest fixed-rate p99); ` +
      'errors are summed over all rounds\n';
    const verdictLines = verdicts.map((v) => `  [${mark(v)}] ${v.requirement}: ${v.detail}`).join('\n');
    const noteLines = notes.map((n) => `  - ${n}`).join('\n');
    if (plainRun) {
      process.stdout.write(
        `${header}\n${table(rows)}\n\nTargets:\n${verdictLines}\n\nNotes:\n${noteLines}\n\n`,
      );
    }
    if (tls) {
      const tlsNotes = tls.notes.map((n) => `  - ${n}`).join('\n');
      process.stdout.write(`${tls.text}\nTLS notes:\n${tlsNotes}\n\n`);
    }

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
        hey: { concurrency: rate > 0 ? heyWorkers(rate, o.heyConcurrency) : null },
        quick: o.quick,
        rounds: o.rounds,
      },
      upstream: { kind: upstreamKind, url: upstream.url },
      fixedRate: { rps: rate, from: rateBase?.from ?? null },
      targets: results.map((r) => ({
        name: r.name,
        skipped: r.skipped ?? null,
        peak: r.peak
          ? {
              rps: round(r.peak.rps, 1),
              requests: r.peak.requests,
              p50Ms: round(r.peak.p50Ms),
              p99Ms: round(r.peak.p99Ms),
              errors: r.peak.errors,
              non2xx: r.peak.non2xx,
              socketErrors: r.peak.socketErrors,
              cpuPercent: r.peak.cpu,
              rpsPerTargetCore: round(perCore(r.peak), 0),
              rounds: r.peakRounds.map((x) => ({
                rps: round(x.rps, 1),
                p99Ms: round(x.p99Ms),
                errors: x.errors,
                cpuPercent: x.cpu,
              })),
            }
          : null,
        fixed: r.fixed
          ? {
              targetRps: r.fixed.targetRate,
              rps: round(r.fixed.rps, 1),
              requests: r.fixed.requests,
              p50Ms: round(r.fixed.p50Ms),
              p99Ms: round(r.fixed.p99Ms),
              addedP99Ms: r.fixed.addedP99Ms,
              errors: r.fixed.errors,
              statuses: r.fixed.statuses,
              errorSamples: r.fixed.errorSamples,
              cpuPercent: r.fixed.cpu,
              rounds: r.fixedRounds.map((x) => ({
                rps: round(x.rps, 1),
                p50Ms: round(x.p50Ms),
                p99Ms: round(x.p99Ms),
                errors: x.errors,
                cpuPercent: x.cpu,
              })),
            }
          : null,
      })),
      rows: o.rows,
      verdicts,
      notes,
      tls: tls?.json ?? null,
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
