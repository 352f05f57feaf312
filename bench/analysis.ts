/**
 * `npm run bench:analysis`: how fast and how safely a canary analysis takes a bad release back, on a real
 * `cutover up` (gateway + example-service instances) under ~1000 req/s of open-loop load.
 *
 *   node bench/analysis.ts [--quick] [--runs 20] [--detect-runs 3] [--rate 1000] [--weight 10]
 *                          [--analysis 15s] [--sim-runs 1000] [--scenarios a,b,c,d] [--keep]
 *
 * (a) stable 0.1 % errors, canary 5 % errors at 10 % weight: time from the first canary request to the
 *     last canary response (all traffic back on stable), and the failed requests users saw;
 * (b) canary +300 ms latency: same time;
 * (c) healthy canary identical to stable, `--runs` analyses of `--analysis` each: false-abort rate, plus
 *     the engine's false-alarm rate over `--sim-runs` simulated 60 s analyses;
 * (d) `rolling`: a rolling update (4 replicas, maxSurge 1, maxUnavailable 0) with the same analysis, on
 *     its own `cutover up`, of a revision with 5 % errors: time from the first to the last request the bad
 *     revision served, and the failed requests users saw (bench/lib/analysis-rolling.ts).
 * Beside (a)-(c): what Flagger's defaults (interval 60 s, threshold 1 in code / 5 in the docs) give on the
 * same traffic; beside (d): Kubernetes (no analysis) and Argo Rollouts/Flagger (a rolling update is not
 * judged), computed on the same traffic rate. Prints a table, then a line `JSON:` followed by the JSON document (to the end of
 * stdout), and writes bench/results/analysis-latest.json.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { validateAnalysis } from '../src/config/analysis.ts';
import type { AnalysisConfig } from '../src/config/types.ts';
import type { StatsReport } from '../src/gateway/protocol.ts';
import { BenchCluster, type StatusDoc } from './lib/analysis-cluster.ts';
import { diffCounters, type LoadCounters, PacedLoad } from './lib/analysis-load.ts';
import { measureRolling, ROLLING_REPLICAS, ROLLING_STRATEGY, rollingDir } from './lib/analysis-rolling.ts';
import {
  rollingNotes,
  rollingRows,
  rollingRunRows,
  summarizeRolling,
} from './lib/analysis-rolling-report.ts';
import {
  FLAGGER,
  flaggerDetectionS,
  flaggerFalseFailPerCheck,
  lognormal,
  type SimSummary,
  simulateMany,
} from './lib/analysis-sim.ts';
import { machineBusyPercent, Procs, sleep } from './lib/procs.ts';
import { REPO_ROOT } from './lib/targets.ts';

/** Targets from issue 4. */
const TARGET_A_DETECT_S = 5;
const TARGET_A_FAILED = 50;
const TARGET_B_DETECT_S = 10;
const TARGET_C_FALSE_ABORT = 0.01;

const STABLE_ERROR_RATE = 0.001;
const CANARY_ERROR_RATE = 0.05;
const CANARY_EXTRA_LATENCY_MS = 300;
/** Status polling period (routes + counters) while a canary runs. */
const POLL_MS = 50;

/**
 * The analysis under test: the four gateway metrics of docs/analysis.md with their documented limits
 * (the latency limits sized for this service, whose own p99 is a few ms).
 */
const ANALYSIS = {
  interval: '1s',
  minRequests: 50,
  metrics: [
    { name: 'errors', errorRate: { max: 0.01 } },
    { name: 'vs-stable', errorRate: { maxIncreaseOver: 'stable', by: 0.005 } },
    { name: 'latency', latency: { percentile: 99, max: '250ms' } },
    { name: 'latency-vs-stable', latency: { percentile: 99, maxIncreaseOver: 'stable', by: '100ms' } },
  ],
};

type Scenario = 'a' | 'b' | 'c' | 'd';

interface Options {
  quick: boolean;
  rate: number;
  weight: number;
  analysisS: number;
  /** (c) live runs. */
  runs: number;
  /** (a), (b) and (d) live runs each. */
  detectRuns: number;
  simRuns: number;
  scenarios: Scenario[];
  keep: boolean;
  gatewayWorkers: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      'detect-runs': { type: 'string' },
      rate: { type: 'string', default: '1000' },
      weight: { type: 'string', default: '10' },
      analysis: { type: 'string', default: '15s' },
      'sim-runs': { type: 'string' },
      scenarios: { type: 'string', default: 'a,b,c,d' },
      'gateway-workers': { type: 'string', default: '2' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node bench/analysis.ts [--quick] [--runs 20] [--detect-runs 3] [--rate 1000] [--weight 10]\n' +
        '                              [--analysis 15s] [--sim-runs 1000] [--scenarios a,b,c,d]\n' +
        '                              [--gateway-workers 2] [--keep]\n',
    );
    process.exit(0);
  }
  const int = (name: string, v: string, min = 1): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
  const quick = values.quick;
  const m = /^(\d+)s?$/.exec(values.analysis.trim());
  if (!m) throw new Error(`--analysis takes whole seconds (e.g. 15s), got ${values.analysis}`);
  const weight = Number(values.weight);
  if (!(weight > 0 && weight < 100)) throw new Error(`--weight must be in (0, 100), got ${values.weight}`);
  const scenarios = values.scenarios
    .split(',')
    .map((s) => (s.trim() === 'rolling' ? 'd' : s.trim())) as Scenario[];
  for (const s of scenarios) {
    if (!['a', 'b', 'c', 'd'].includes(s))
      throw new Error(`--scenarios: unknown scenario ${s} (a, b, c, d or rolling)`);
  }
  return {
    quick,
    rate: int('rate', values.rate),
    weight,
    analysisS: int('analysis', m[1]),
    runs: int('runs', values.runs ?? (quick ? '2' : '20')),
    detectRuns: int('detect-runs', values['detect-runs'] ?? (quick ? '1' : '3')),
    simRuns: int('sim-runs', values['sim-runs'] ?? (quick ? '200' : '1000')),
    scenarios,
    keep: values.keep,
    gatewayWorkers: int('gateway-workers', values['gateway-workers']),
  };
}

function log(msg: string): void {
  process.stderr.write(`[bench:analysis] ${msg}\n`);
}

interface RunResult {
  scenario: Scenario;
  version: string;
  revision: number | null;
  /** Aborted: the rollout ended Failed (the analysis took it back); else promoted, or timed out. */
  outcome: 'aborted' | 'promoted' | 'timeout' | 'other';
  reason: string;
  /** ms from `deploy` to the first canary request (client clock). */
  deployToFirstMs: number | null;
  /** First canary request (start) -> last canary response (end), client clock. */
  detectionMs: number | null;
  /** First canary request -> first poll showing the gateway's route table without a canary upstream. */
  routesClearedMs: number | null;
  /** First canary request -> last poll on which the canary's request counter had grown. */
  counterStoppedMs: number | null;
  canaryRequests: number;
  canary5xx: number;
  /** 5xx of every other revision (stable) during the run. */
  stable5xx: number;
  stableRequests: number;
  client: LoadCounters;
  /** Canary 5xx (gateway counter) + socket errors/timeouts the clients got. */
  failedSeen: number;
}

function revisionsOf(s: StatsReport): Record<string, { requests: number; fivexx: number; version: string }> {
  const out: Record<string, { requests: number; fivexx: number; version: string }> = {};
  const revs = s.services.web?.revisions ?? {};
  for (const [rev, r] of Object.entries(revs)) {
    out[rev] = { requests: r.requests, fivexx: r.status['5xx'], version: r.version };
  }
  return out;
}

async function waitSettled(c: BenchCluster, timeoutMs: number): Promise<StatusDoc> {
  const deadline = Date.now() + timeoutMs;
  let s = await c.status();
  while (Date.now() < deadline) {
    s = await c.status();
    const r = await c.routes();
    const web = r.services.find((x) => x.name === 'web');
    const canaries = web?.upstreams.filter((u) => u.role === 'canary').length ?? 0;
    if (!s.rollout && canaries === 0 && (s.phase === 'Healthy' || s.phase === 'Degraded')) return s;
    await sleep(200);
  }
  throw new Error(`service did not settle within ${timeoutMs} ms (phase ${s.phase})`);
}

async function runOne(
  c: BenchCluster,
  load: PacedLoad,
  o: Options,
  scenario: Scenario,
  version: string,
): Promise<RunResult> {
  const errorRate = scenario === 'a' ? CANARY_ERROR_RATE : STABLE_ERROR_RATE;
  const extra = scenario === 'b' ? CANARY_EXTRA_LATENCY_MS : 0;
  const statsBefore = revisionsOf(await c.stats());
  const loadBefore = load.snapshot();
  const tDeploy = performance.now();
  const d = await c.cli([
    'deploy',
    'web',
    '--version',
    version,
    '--set',
    `run.env.ERROR_RATE=${errorRate}`,
    '--set',
    `run.env.EXTRA_LATENCY_MS=${extra}`,
  ]);
  if (d.code !== 0) throw new Error(`cutover deploy ${version} exited ${d.code}: ${d.stderr}${d.stdout}`);

  // Poll the route table, the counters and the status until the rollout is over and no canary is routed.
  let revision: number | null = null;
  let seenCanaryRoute = false;
  let routesClearedAt: number | null = null;
  let lastCount = 0;
  let counterFirstAt: number | null = null;
  let counterGrewAt: number | null = null;
  let status: StatusDoc | undefined;
  let lastStatusAt = 0;
  const timeoutMs = (o.analysisS + 60) * 1000;
  let outcome: RunResult['outcome'] = 'timeout';
  while (performance.now() - tDeploy < timeoutMs) {
    const now = performance.now();
    const [routes, stats] = await Promise.all([c.routes(), c.stats()]);
    const web = routes.services.find((x) => x.name === 'web');
    const mine = web?.upstreams.filter((u) => u.version === version) ?? [];
    if (revision === null && mine.length > 0) revision = mine[0].revision;
    const canaryRouted = mine.some((u) => u.role === 'canary');
    if (canaryRouted) seenCanaryRoute = true;
    if (seenCanaryRoute && !canaryRouted && routesClearedAt === null) routesClearedAt = now;
    if (revision !== null) {
      const n = stats.services.web?.revisions[String(revision)]?.requests ?? 0;
      if (n > 0 && counterFirstAt === null) counterFirstAt = now;
      if (n > lastCount) {
        lastCount = n;
        if (canaryRouted || routesClearedAt === null) counterGrewAt = now;
      }
    }
    if (now - lastStatusAt > 250 || (seenCanaryRoute && !canaryRouted)) {
      status = await c.status();
      lastStatusAt = now;
      if (!status.rollout && seenCanaryRoute && !canaryRouted) {
        const phase = status.lastRollout?.phase ?? '';
        outcome = phase === 'Failed' ? 'aborted' : phase === 'Succeeded' ? 'promoted' : 'other';
        break;
      }
    }
    await sleep(POLL_MS);
  }
  // Let the requests still in flight on the canary finish (they count as canary traffic).
  await sleep(500 + extra * 2);
  const statsAfter = revisionsOf(await c.stats());
  const client = diffCounters(loadBefore, load.snapshot());
  const seen = load.versions.get(version);
  const first = seen?.firstStart ?? counterFirstAt;
  const rev = revision === null ? null : String(revision);
  let canaryRequests = 0;
  let canary5xx = 0;
  let stableRequests = 0;
  let stable5xx = 0;
  for (const [r, after] of Object.entries(statsAfter)) {
    const before = statsBefore[r] ?? { requests: 0, fivexx: 0 };
    if (r === rev) {
      canaryRequests = after.requests - before.requests;
      canary5xx = after.fivexx - before.fivexx;
    } else {
      stableRequests += after.requests - before.requests;
      stable5xx += after.fivexx - before.fivexx;
    }
  }
  const since = (t: number | null): number | null => (t === null || first === null ? null : t - first);
  const reason =
    status?.lastRollout?.message ??
    status?.lastRollout?.reason ??
    status?.message ??
    (outcome === 'timeout' ? 'no end within the timeout' : '');
  return {
    scenario,
    version,
    revision,
    outcome,
    reason,
    deployToFirstMs: first === null ? null : first - tDeploy,
    detectionMs: outcome === 'aborted' && seen ? seen.lastEnd - seen.firstStart : null,
    routesClearedMs: outcome === 'aborted' ? since(routesClearedAt) : null,
    counterStoppedMs: outcome === 'aborted' ? since(counterGrewAt) : null,
    canaryRequests,
    canary5xx,
    stable5xx,
    stableRequests,
    client,
    failedSeen: canary5xx + client.errors,
  };
}

const fmt = (n: number | null | undefined, digits = 2): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);
const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const max = (xs: number[]): number | null => (xs.length ? Math.max(...xs) : null);
const round = (n: number | null, digits = 3): number | null =>
  n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((cell, i) => cell.padEnd(widths[i])).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n').replace(/ +$/gm, '');
}

/** One-sided 95 % upper bound on a rate after `k` events in `n` trials (exact for k = 0: 1 - 0.05^(1/n)). */
function upper95(k: number, n: number): number {
  if (n === 0) return 1;
  if (k === 0) return 1 - 0.05 ** (1 / n);
  // Wilson score upper bound, good enough for the table.
  const z = 1.645;
  const p = k / n;
  const d = 1 + (z * z) / n;
  return Math.min(1, (p + (z * z) / (2 * n) + z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d);
}

function analysisConfig(): AnalysisConfig {
  const v = validateAnalysis(ANALYSIS);
  if (!v.ok) throw new Error(`bench analysis config invalid: ${JSON.stringify(v.issues)}`);
  return v.analysis;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const cfg = analysisConfig();
  const procs = new Procs();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-analysis-'));
  const cluster = new BenchCluster(procs, tmp);
  let load: PacedLoad | undefined;
  // (d) runs on a cluster and a load of its own, after the canary one.
  let rollCluster: BenchCluster | undefined;
  let rollLoad: PacedLoad | undefined;
  let cleaned = false;
  const cleanupSync = (): void => {
    if (cleaned) return;
    cleaned = true;
    procs.killAllSync();
    cluster.killSync();
    rollCluster?.killSync();
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping every process`);
      void (async () => {
        await load?.stop(1000);
        await rollLoad?.stop(1000);
        await cluster.shutdown(3000).catch(() => undefined);
        await rollCluster?.shutdown(3000).catch(() => undefined);
        await procs.stopAll();
      })().finally(() => {
        cleanupSync();
        process.exit(130);
      });
    });
  }

  const notes: string[] = [];
  const busyBefore = await machineBusyPercent(1000);
  if (busyBefore !== null && busyBefore > 15) {
    const msg = `the machine was already ${busyBefore}% busy before the benchmark started: figures are noisy.`;
    log(`warning: ${msg}`);
    notes.push(msg);
  }

  // The engine's simulated figures first (CPU only, before any process starts).
  log(`simulating ${o.simRuns} healthy 60 s analyses (engine, seeded)`);
  const lat = lognormal(40, 0.6);
  const simCanaryRps = (o.rate * o.weight) / 100;
  const simStableRps = o.rate - simCanaryRps;
  const sim: Record<string, SimSummary> = {
    healthy: simulateMany(
      cfg,
      { rps: simCanaryRps, errorRate: STABLE_ERROR_RATE, latency: lat },
      { rps: simStableRps, errorRate: STABLE_ERROR_RATE, latency: lat },
      o.simRuns,
      60,
    ),
    errors5: simulateMany(
      cfg,
      { rps: simCanaryRps, errorRate: CANARY_ERROR_RATE, latency: lat },
      { rps: simStableRps, errorRate: STABLE_ERROR_RATE, latency: lat },
      Math.min(o.simRuns, 300),
      60,
    ),
    latency300: simulateMany(
      cfg,
      {
        rps: simCanaryRps,
        errorRate: STABLE_ERROR_RATE,
        latency: lognormal(40, 0.6, CANARY_EXTRA_LATENCY_MS),
      },
      { rps: simStableRps, errorRate: STABLE_ERROR_RATE, latency: lat },
      Math.min(o.simRuns, 300),
      60,
    ),
  };
  log(
    `  healthy: ${sim.healthy.fails}/${sim.healthy.runs} false Fails; 5% errors: median ${sim.errors5.medianS} s; ` +
      `+300 ms: median ${sim.latency300.medianS} s`,
  );

  const runs: RunResult[] = [];
  const plan: Scenario[] = [];
  for (const s of o.scenarios) {
    if (s === 'd') continue;
    const count = s === 'c' ? o.runs : o.detectRuns;
    for (let i = 0; i < count; i++) plan.push(s);
  }
  if (plan.length > 0) {
    try {
      await cluster.writeConfig({
        replicas: 2,
        canaryReplicas: 1,
        weight: o.weight,
        analysisSeconds: o.analysisS,
        gatewayWorkers: o.gatewayWorkers,
        stableErrorRate: STABLE_ERROR_RATE,
        analysisYaml: `    analysis: ${JSON.stringify(ANALYSIS)}\n`,
      });
      log(`cutover up (${tmp}), gateway 127.0.0.1:${cluster.gatewayPort}`);
      await cluster.up();
      load = new PacedLoad(cluster.gatewayPort, o.rate);
      load.start();
      log(`load: ${o.rate} req/s open loop; warming up 3 s`);
      await sleep(3000);

      let n = 0;
      for (const s of plan) {
        n++;
        const version = `${s}${n}`;
        log(`run ${n}/${plan.length}: (${s}) deploy ${version}`);
        const r = await runOne(cluster, load, o, s, version);
        runs.push(r);
        log(
          `  ${r.outcome}${r.reason ? ` (${r.reason.slice(0, 120)})` : ''}; detection ${fmt(
            r.detectionMs === null ? null : r.detectionMs / 1000,
          )} s, routes cleared ${fmt(r.routesClearedMs === null ? null : r.routesClearedMs / 1000)} s; canary ` +
            `${r.canaryRequests} req, ${r.canary5xx} 5xx; client errors ${r.client.errors}`,
        );
        await waitSettled(cluster, 60_000);
        await sleep(1000);
      }
      await load.stop();
    } finally {
      await load?.stop(2000);
      await cluster.shutdown().catch((err: unknown) => log(`shutdown: ${(err as Error).message}`));
    }
  }
  let rolling: Awaited<ReturnType<typeof measureRolling>> | null = null;
  try {
    if (o.scenarios.includes('d')) {
      rolling = await measureRolling({
        procs,
        dir: rollingDir(tmp),
        rate: o.rate,
        runs: o.detectRuns,
        gatewayWorkers: o.gatewayWorkers,
        stableErrorRate: STABLE_ERROR_RATE,
        badErrorRate: CANARY_ERROR_RATE,
        analysisYaml: `    analysis: ${JSON.stringify(ANALYSIS)}\n`,
        started: (c, l) => {
          rollCluster = c;
          rollLoad = l;
        },
        log,
      });
    }
  } finally {
    await procs.stopAll();
  }

  // Figures.
  const of = (s: Scenario): RunResult[] => runs.filter((r) => r.scenario === s);
  const achievedRps = load ? load.sentRate() : o.rate;
  const canaryRps = (achievedRps * o.weight) / 100;
  const detectS = (rs: RunResult[]): number[] =>
    rs.filter((r) => r.detectionMs !== null).map((r) => (r.detectionMs ?? 0) / 1000);
  const a = of('a');
  const b = of('b');
  const cRuns = of('c');
  const aDetect = detectS(a);
  const aFailed = a.filter((r) => r.outcome === 'aborted').map((r) => r.failedSeen);
  const bDetect = detectS(b);
  const aMissed = a.filter((r) => r.outcome !== 'aborted').length;
  const bMissed = b.filter((r) => r.outcome !== 'aborted').length;
  const cAborts = cRuns.filter((r) => r.outcome === 'aborted').length;
  const cOther = cRuns.filter((r) => r.outcome !== 'aborted' && r.outcome !== 'promoted').length;
  const fl1 = flaggerDetectionS(FLAGGER.thresholdCode);
  const fl5 = flaggerDetectionS(FLAGGER.thresholdDocs);
  const flFailed = (t: number): number => Math.round(canaryRps * CANARY_ERROR_RATE * t);
  const flPerCheck = flaggerFalseFailPerCheck(canaryRps, STABLE_ERROR_RATE);

  interface Verdict {
    name: string;
    requirement: string;
    value: number | null;
    pass: boolean | null;
  }
  const worstA = max(aDetect);
  const worstAFailed = max(aFailed);
  const worstB = max(bDetect);
  const simRate = sim.healthy.failRate;
  const verdicts: Verdict[] = [];
  if (a.length) {
    verdicts.push(
      {
        name: 'a-detection',
        requirement: `(a) every run aborted, worst time < ${TARGET_A_DETECT_S} s`,
        value: round(worstA),
        pass: aMissed === 0 && worstA !== null && worstA < TARGET_A_DETECT_S,
      },
      {
        name: 'a-failed-requests',
        requirement: `(a) worst failed requests users saw < ${TARGET_A_FAILED}`,
        value: worstAFailed,
        pass: worstAFailed === null ? null : worstAFailed < TARGET_A_FAILED,
      },
    );
  }
  if (b.length) {
    verdicts.push({
      name: 'b-detection',
      requirement: `(b) every run aborted, worst time < ${TARGET_B_DETECT_S} s`,
      value: round(worstB),
      pass: bMissed === 0 && worstB !== null && worstB < TARGET_B_DETECT_S,
    });
  }
  if (cRuns.length) {
    verdicts.push({
      name: 'c-false-abort',
      requirement: `(c) false-abort rate <= ${TARGET_C_FALSE_ABORT * 100}% (engine, ${sim.healthy.runs} simulated runs; live runs must show none)`,
      value: round(simRate, 4),
      pass: simRate <= TARGET_C_FALSE_ABORT && cAborts === 0,
    });
  }
  const mark = (v: Verdict | undefined): string =>
    v === undefined || v.pass === null ? 'n/a' : v.pass ? 'PASS' : 'FAIL';
  const vOf = (name: string): Verdict | undefined => verdicts.find((v) => v.name === name);
  const medWorst = (xs: number[], d = 2): string =>
    xs.length ? `${fmt(median(xs), d)} / ${fmt(max(xs), d)}` : '-';
  const pct = (x: number): string => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 1)}%`;

  const rollSum = rolling ? summarizeRolling(rolling.runs, rolling.sentRps, CANARY_ERROR_RATE) : null;
  // (a)-(c) compare with Flagger's canary, (d) with a rolling update elsewhere: one column each.
  const peerHeader = (canary: string, roll: string): string =>
    !rollSum ? canary : plan.length ? `${canary} | (d) ${roll}` : roll;
  const rows: string[][] = [
    [
      'figure',
      'runs',
      'cutover (median / worst)',
      peerHeader('Flagger thr=1 (code)', 'Kubernetes (no analysis)'),
      peerHeader('Flagger thr=5 (docs)', 'Argo Rollouts / Flagger'),
      'target',
      'verdict',
    ],
  ];
  if (a.length) {
    rows.push(
      [
        '(a) 5% errors: first canary req -> back on stable (s)',
        String(a.length),
        `${medWorst(aDetect)}${aMissed ? ` (${aMissed} not aborted)` : ''}`,
        `>= ${fl1}`,
        `>= ${fl5}`,
        `< ${TARGET_A_DETECT_S}`,
        mark(vOf('a-detection')),
      ],
      [
        '(a) failed requests users saw (canary 5xx + socket errors)',
        String(a.length),
        medWorst(aFailed, 0),
        `~${flFailed(fl1)}`,
        `~${flFailed(fl5)}`,
        `< ${TARGET_A_FAILED}`,
        mark(vOf('a-failed-requests')),
      ],
    );
  }
  if (a.length) {
    rows.push([
      '(a) engine simulation: time to Fail (s), median / p95',
      String(sim.errors5.runs),
      `${sim.errors5.medianS ?? '-'} / ${sim.errors5.p95S ?? '-'} (Fail in ${sim.errors5.fails}/${sim.errors5.runs})`,
      `>= ${fl1}`,
      `>= ${fl5}`,
      '-',
      '-',
    ]);
  }
  if (b.length) {
    rows.push([
      `(b) +${CANARY_EXTRA_LATENCY_MS} ms: first canary req -> back on stable (s)`,
      String(b.length),
      `${medWorst(bDetect)}${bMissed ? ` (${bMissed} not aborted)` : ''}`,
      `>= ${fl1}`,
      `>= ${fl5}`,
      `< ${TARGET_B_DETECT_S}`,
      mark(vOf('b-detection')),
    ]);
  }
  if (cRuns.length) {
    rows.push(
      [
        `(c) healthy: false aborts, live (${o.analysisS} s analyses)`,
        String(cRuns.length),
        `${cAborts}/${cRuns.length} = ${pct(cAborts / cRuns.length)} (95% bound ${pct(upper95(cAborts, cRuns.length))})`,
        `per 60 s check ${flPerCheck.toExponential(1)}`,
        'same',
        `<= ${TARGET_C_FALSE_ABORT * 100}%`,
        cAborts === 0 ? 'ok' : 'FAIL',
      ],
      [
        '(c) healthy: false aborts, engine simulation (60 s analyses)',
        String(sim.healthy.runs),
        `${sim.healthy.fails}/${sim.healthy.runs} = ${pct(simRate)} (95% bound ${pct(upper95(sim.healthy.fails, sim.healthy.runs))})`,
        '-',
        '-',
        `<= ${TARGET_C_FALSE_ABORT * 100}%`,
        mark(vOf('c-false-abort')),
      ],
    );
  }
  if (rolling && rollSum) rows.push(...rollingRows(rollSum, rolling.sentRps, CANARY_ERROR_RATE));

  const runRows: string[][] = [
    [
      'run',
      'outcome',
      'deploy->1st canary s',
      'detect s',
      'routes clear s',
      'canary req',
      'canary 5xx',
      'client errs',
      'stable req',
      'stable 5xx',
      'reason',
    ],
  ];
  for (const r of runs) {
    runRows.push([
      `(${r.scenario}) ${r.version}`,
      r.outcome,
      fmt(r.deployToFirstMs === null ? null : r.deployToFirstMs / 1000),
      fmt(r.detectionMs === null ? null : r.detectionMs / 1000),
      fmt(r.routesClearedMs === null ? null : r.routesClearedMs / 1000),
      String(r.canaryRequests),
      String(r.canary5xx),
      String(r.client.errors),
      String(r.stableRequests),
      String(r.stable5xx),
      r.reason.slice(0, 90),
    ]);
  }

  const throttled = runs.reduce((s, r) => s + r.client.throttled, 0) + (rolling?.throttled ?? 0);
  if (plan.length) {
    notes.push(
      `Load: ${o.rate} req/s asked, ${achievedRps.toFixed(0)} req/s sent on average (open loop, node:http keep-alive ` +
        `clients in the benchmark process), ${o.weight}% to the canary (~${canaryRps.toFixed(0)} req/s).`,
      'Time = start of the first request the canary answered -> end of the last response from the canary, both on the ' +
        "client's clock (requests in flight on the canary when the routes switch count). `routes clear` = first " +
        `${POLL_MS} ms poll of the gateway's /routes without a canary upstream.`,
      'Failed requests users saw = 5xx the gateway counted on the canary revision (exact /stats counter; the 500s of ' +
        'the example service carry no version) + socket errors/timeouts at the clients. Stable 5xx (its own 0.1%) ' +
        'are shown per run and are not caused by the release.',
      `Flagger: a check every interval (${FLAGGER.intervalS} s default), rollback after threshold failed checks ` +
        `(1 in code, 5 in the docs) -> at least interval x threshold; users see the canary's errors that long: ` +
        `${canaryRps.toFixed(0)} req/s x ${CANARY_ERROR_RATE * 100}% x t. For (b) Flagger also needs a ` +
        'request-duration limit below the slowed p99 (its docs example, 500 ms, would never fire on a +300 ms ' +
        'regression of this ~1 ms service). Flagger (c): request-success-rate >= 99% per 60 s window at 0.1% errors ' +
        '(binomial tail per check) is practically never failed: the difference is detection speed, not false alarms.',
      `Analysis under test: ${JSON.stringify(ANALYSIS)} (alpha 0.01 split over the four metrics); strategy canary, ` +
        `${o.weight}% weight, then a ${o.analysisS} s analysis step, then 100%.`,
      `Engine simulation: the real src/analysis engine on seeded traffic (${simCanaryRps.toFixed(0)}/${simStableRps.toFixed(0)} ` +
        'req/s canary/stable, lognormal latency median 40 ms, one look per second): ' +
        `5% errors -> Fail in ${sim.errors5.fails}/${sim.errors5.runs}, median ${sim.errors5.medianS} s, p95 ${sim.errors5.p95S} s; ` +
        `+300 ms -> Fail in ${sim.latency300.fails}/${sim.latency300.runs}, median ${sim.latency300.medianS} s.`,
    );
  }
  if (rolling && rollSum) notes.push(...rollingNotes(rollSum, rolling.sentRps, CANARY_ERROR_RATE));
  if (cOther > 0) notes.push(`(c): ${cOther} healthy run(s) neither promoted nor aborted (timeout/other).`);
  if (throttled > 0)
    notes.push(`The load generator hit its in-flight cap on ${throttled} ticks (schedule slipped).`);
  if (o.quick) notes.push('--quick: few runs; a smoke check, not a measurement.');

  const mk = (v: Verdict): string => `  [${mark(v)}] ${v.requirement}: ${v.value ?? '-'}`;
  const setups = [
    plan.length
      ? `2 stable + 1 canary instance, ${achievedRps.toFixed(0)} req/s, canary weight ${o.weight}%`
      : '',
    rolling
      ? `(d) rolling ${ROLLING_STRATEGY} over ${ROLLING_REPLICAS} instances, ${rolling.sentRps.toFixed(0)} req/s`
      : '',
  ].filter(Boolean);
  const perRun = [plan.length ? table(runRows) : '', rolling ? table(rollingRunRows(rolling.runs)) : ''];
  process.stdout.write(
    `Cutover analysis detection benchmark: real gateway (${o.gatewayWorkers} workers) + example service; ` +
      `${setups.join('; ')}\n\n${table(rows)}\n\nPer run:\n${perRun.filter(Boolean).join('\n\n')}\n\n` +
      `Targets:\n${verdicts.length ? verdicts.map(mk).join('\n') : '  (none for (d): issue 15 sets no target)'}\n\n` +
      `Notes:\n${notes.map((x) => `  - ${x}`).join('\n')}\n\n`,
  );

  const doc = {
    benchmark: 'cutover-analysis',
    time: new Date().toISOString(),
    machine: {
      busyPercentBefore: busyBefore,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
    },
    options: o,
    analysis: ANALYSIS,
    load: {
      askedRps: o.rate,
      sentRps: plan.length ? round(achievedRps, 1) : null,
      canaryRps: plan.length ? round(canaryRps, 1) : null,
      rollingSentRps: rolling ? round(rolling.sentRps, 1) : null,
    },
    summary: {
      a: a.length
        ? {
            runs: a.length,
            notAborted: aMissed,
            detectionS: { median: round(median(aDetect)), worst: round(worstA) },
            failedSeen: { median: median(aFailed), worst: worstAFailed },
            flagger: {
              threshold1: { detectionS: fl1, failedSeen: flFailed(fl1) },
              threshold5: { detectionS: fl5, failedSeen: flFailed(fl5) },
            },
          }
        : null,
      b: b.length
        ? {
            runs: b.length,
            notAborted: bMissed,
            detectionS: { median: round(median(bDetect)), worst: round(worstB) },
            flagger: { threshold1: { detectionS: fl1 }, threshold5: { detectionS: fl5 } },
          }
        : null,
      c: cRuns.length
        ? {
            runs: cRuns.length,
            falseAborts: cAborts,
            rate: round(cAborts / cRuns.length, 4),
            upper95: round(upper95(cAborts, cRuns.length), 4),
            flaggerFalseFailPerCheck: flPerCheck,
          }
        : null,
      d: rollSum,
      simulation: sim,
    },
    runs: runs.map((r) => ({
      ...r,
      deployToFirstMs: round(r.deployToFirstMs, 1),
      detectionMs: round(r.detectionMs, 1),
      routesClearedMs: round(r.routesClearedMs, 1),
      counterStoppedMs: round(r.counterStoppedMs, 1),
    })),
    rollingRuns: (rolling?.runs ?? []).map((r) => ({
      ...r,
      deployToFirstMs: round(r.deployToFirstMs, 1),
      badWindowMs: round(r.badWindowMs, 1),
      restoredMs: round(r.restoredMs, 1),
    })),
    verdicts,
    notes,
  };
  const json = JSON.stringify(doc, null, 2);
  process.stdout.write(`JSON:\n${json}\n`);
  const outDir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'analysis-latest.json'), `${json}\n`);
  log(`wrote bench/results/analysis-latest.json`);
  cleanupSync();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench:analysis failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
