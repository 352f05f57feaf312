/**
 * Scenario (d) of bench/analysis.ts: a rolling update judged by analysis, on its own real `cutover up`
 * (4 replicas, `maxSurge: 1, maxUnavailable: 0`, the same `analysis` block) under the same paced load.
 * Each run deploys a revision with 5 % errors and follows it until the rollout (and the rollback it
 * causes) is over and no instance of it is routed. Measured on the load generator's clock: the first
 * request the bad revision answered -> the end of the last response from it; and the failed requests
 * users saw (the gateway's 5xx count of the bad revision + socket errors).
 */

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Revision } from '../../src/core/model.ts';
import type { StatsReport } from '../../src/gateway/protocol.ts';
import { BenchCluster } from './analysis-cluster.ts';
import { diffCounters, type LoadCounters, PacedLoad } from './analysis-load.ts';
import type { Procs } from './procs.ts';
import { sleep } from './procs.ts';

export const ROLLING_REPLICAS = 4;
export const ROLLING_STRATEGY = '{ type: rolling, maxSurge: 1, maxUnavailable: 0 }';
const POLL_MS = 50;
const STATUS_EVERY_MS = 250;

export interface RollingRun {
  version: string;
  revision: number | null;
  /** rolledBack: the analysis failed it and the old revision serves again; completed: it replaced all. */
  outcome: 'rolledBack' | 'completed' | 'timeout' | 'other';
  reason: string;
  /** ms from `deploy` to the first request the bad revision answered (client clock). */
  deployToFirstMs: number | null;
  /** First request the bad revision answered (start) -> last response from it (end), client clock. */
  badWindowMs: number | null;
  /** First bad request -> first poll with the rollout over and only old instances routed. */
  restoredMs: number | null;
  /** The analysis's own time to verdict (history), from its start. */
  verdictMs: number | null;
  /** Most instances of the bad revision routed at once. */
  badInstancesPeak: number;
  badRequests: number;
  bad5xx: number;
  otherRequests: number;
  other5xx: number;
  client: LoadCounters;
  /** Bad revision 5xx (gateway counter) + socket errors/timeouts the clients got. */
  failedSeen: number;
}

export interface RollingSetup {
  procs: Procs;
  /** A directory of its own (config, data dir, logs). */
  dir: string;
  rate: number;
  runs: number;
  gatewayWorkers: number;
  stableErrorRate: number;
  badErrorRate: number;
  analysisYaml: string;
  /** Called with the cluster and the load as they start, so that an interrupt can stop them. */
  started: (cluster: BenchCluster, load?: PacedLoad) => void;
  log: (msg: string) => void;
}

export interface RollingMeasured {
  runs: RollingRun[];
  sentRps: number;
  throttled: number;
}

function revisionCounts(s: StatsReport): Record<string, { requests: number; fivexx: number }> {
  const out: Record<string, { requests: number; fivexx: number }> = {};
  for (const [rev, r] of Object.entries(s.services.web?.revisions ?? {})) {
    out[rev] = { requests: r.requests, fivexx: r.status['5xx'] };
  }
  return out;
}

/** Waits until no rollout runs and the route table holds `replicas` instances of one revision. */
async function waitSteady(c: BenchCluster, replicas: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    const [s, r] = await Promise.all([c.status(), c.routes()]);
    const ups = r.services.find((x) => x.name === 'web')?.upstreams ?? [];
    const revs = new Set(ups.map((u) => u.revision));
    if (!s.rollout && ups.length === replicas && revs.size === 1) return;
    last = `phase ${s.phase}, ${ups.length} upstreams of ${revs.size} revision(s)`;
    await sleep(200);
  }
  throw new Error(`rolling service not steady within ${timeoutMs} ms (${last})`);
}

async function runOne(
  c: BenchCluster,
  load: PacedLoad,
  version: string,
  errorRate: number,
  timeoutMs: number,
): Promise<RollingRun> {
  const before = revisionCounts(await c.stats());
  const loadBefore = load.snapshot();
  const tDeploy = performance.now();
  const d = await c.cli(['deploy', 'web', '--version', version, '--set', `run.env.ERROR_RATE=${errorRate}`]);
  if (d.code !== 0) throw new Error(`cutover deploy ${version} exited ${d.code}: ${d.stderr}${d.stdout}`);

  let revision: number | null = null;
  let peak = 0;
  let failedSeenInStatus = false;
  let restoredAt: number | null = null;
  let lastStatusAt = 0;
  let reason = '';
  let outcome: RollingRun['outcome'] = 'timeout';
  while (performance.now() - tDeploy < timeoutMs) {
    const now = performance.now();
    const routes = await c.routes();
    const ups = routes.services.find((x) => x.name === 'web')?.upstreams ?? [];
    const mine = ups.filter((u) => u.version === version);
    if (revision === null && mine.length > 0) revision = mine[0].revision;
    peak = Math.max(peak, mine.length);
    if (now - lastStatusAt >= STATUS_EVERY_MS || (revision !== null && mine.length === 0)) {
      lastStatusAt = now;
      const s = await c.status();
      const last = s.lastRollout;
      if (last && last.to === revision && last.phase === 'Failed') {
        failedSeenInStatus = true;
        reason = last.message ?? last.reason ?? reason;
      }
      if (s.rollout?.kind === 'rollback') failedSeenInStatus = true;
      if (revision !== null && !s.rollout) {
        const others = ups.filter((u) => u.version !== version);
        if (mine.length === 0 && others.length === ROLLING_REPLICAS) {
          restoredAt = now;
          outcome = failedSeenInStatus ? 'rolledBack' : 'other';
          break;
        }
        if (mine.length === ROLLING_REPLICAS && others.length === 0) {
          outcome = 'completed';
          reason = 'the bad revision replaced every instance';
          break;
        }
      }
    }
    await sleep(POLL_MS);
  }
  // Requests still in flight on the drained instances count as the bad revision's traffic.
  await sleep(500);
  const after = revisionCounts(await c.stats());
  const client = diffCounters(loadBefore, load.snapshot());
  const rev = revision === null ? null : String(revision);
  let badRequests = 0;
  let bad5xx = 0;
  let otherRequests = 0;
  let other5xx = 0;
  for (const [r, a] of Object.entries(after)) {
    const b = before[r] ?? { requests: 0, fivexx: 0 };
    if (r === rev) {
      badRequests = a.requests - b.requests;
      bad5xx = a.fivexx - b.fivexx;
    } else {
      otherRequests += a.requests - b.requests;
      other5xx += a.fivexx - b.fivexx;
    }
  }
  let verdictMs: number | null = null;
  if (revision !== null) {
    const h = await c.api<{ revisions: Revision[] }>('/v1/services/web/history');
    const summary = h.revisions.find((x) => x.number === revision)?.analysis;
    verdictMs = summary?.timeToVerdictMs ?? null;
    if (!reason && summary) reason = summary.message;
    // A status poll can miss the short moment the failed rollout was the last one: history cannot.
    if (outcome === 'other' && summary?.verdict === 'Failed') outcome = 'rolledBack';
  }
  const seen = load.versions.get(version);
  const first = seen?.firstStart ?? null;
  if (outcome === 'timeout') reason ||= 'no end within the timeout';
  return {
    version,
    revision,
    outcome,
    reason,
    deployToFirstMs: first === null ? null : first - tDeploy,
    badWindowMs: seen ? seen.lastEnd - seen.firstStart : null,
    restoredMs: restoredAt === null || first === null ? null : restoredAt - first,
    verdictMs,
    badInstancesPeak: peak,
    badRequests,
    bad5xx,
    otherRequests,
    other5xx,
    client,
    failedSeen: bad5xx + client.errors,
  };
}

/** Starts the rolling cluster and its load, runs `runs` bad deploys, stops both. */
export async function measureRolling(o: RollingSetup): Promise<RollingMeasured> {
  mkdirSync(o.dir, { recursive: true });
  const cluster = new BenchCluster(o.procs, o.dir);
  o.started(cluster);
  let load: PacedLoad | undefined;
  const runs: RollingRun[] = [];
  try {
    await cluster.writeConfig({
      replicas: ROLLING_REPLICAS,
      canaryReplicas: 1,
      weight: 0,
      analysisSeconds: 0,
      gatewayWorkers: o.gatewayWorkers,
      stableErrorRate: o.stableErrorRate,
      analysisYaml: o.analysisYaml,
      strategyYaml: ROLLING_STRATEGY,
    });
    o.log(`(d) cutover up, rolling ${ROLLING_STRATEGY}, ${ROLLING_REPLICAS} replicas (${o.dir})`);
    await cluster.up();
    load = new PacedLoad(cluster.gatewayPort, o.rate);
    o.started(cluster, load);
    load.start();
    o.log(`(d) load: ${o.rate} req/s open loop; warming up 3 s`);
    await sleep(3000);
    for (let i = 1; i <= o.runs; i++) {
      const version = `d${i}`;
      o.log(`(d) run ${i}/${o.runs}: deploy ${version} (ERROR_RATE=${o.badErrorRate})`);
      const r = await runOne(cluster, load, version, o.badErrorRate, 120_000);
      runs.push(r);
      const s = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(2));
      o.log(
        `  ${r.outcome}${r.reason ? ` (${r.reason.slice(0, 120)})` : ''}; bad window ${s(r.badWindowMs)} s, ` +
          `restored ${s(r.restoredMs)} s; bad ${r.badRequests} req, ${r.bad5xx} 5xx, peak ${r.badInstancesPeak} ` +
          `instance(s); client errors ${r.client.errors}`,
      );
      await waitSteady(cluster, ROLLING_REPLICAS, 90_000);
      await sleep(1000);
    }
    await load.stop();
  } finally {
    await load?.stop(2000);
    await cluster.shutdown().catch((err: unknown) => o.log(`(d) shutdown: ${(err as Error).message}`));
  }
  return { runs, sentRps: load ? load.sentRate() : o.rate, throttled: load?.counters.throttled ?? 0 };
}

export const rollingDir = (tmp: string): string => path.join(tmp, 'rolling');
