/**
 * The plain-HTTP rows of `npm run bench`: per target (a) peak throughput with wrk after a warmup, (b)
 * latency with hey at a fixed rate = half of the cutover peak (p50, p99, p99.9 from hey's per-request CSV),
 * and the p99 added over `direct` at that rate. Rounds interleave the targets; the best round counts.
 */

import os from 'node:os';
import { fmtCpu, fmtInt, fmtMs, perCore, round, sum } from './format.ts';
import { type FixedRun, type LatencyOptions, type LatencySeries, runLatencyPhase } from './latency-phase.ts';
import { type Cpu, runWrk, withCpu } from './measure.ts';
import type { TargetName } from './options.ts';
import type { WrkResult } from './parse.ts';
import type { Procs } from './procs.ts';

/** Spec targets (docs: gateway performance goals). */
export const MIN_RPS_RATIO_VS_NGINX = 0.5;
export const MAX_ADDED_P99_MS = 1;
/** CPU (% of one core) used by processes outside the benchmark above which a run is flagged. */
export const FOREIGN_CPU_LIMIT = 25;

export interface TargetResult {
  name: TargetName;
  url?: string;
  skipped?: string;
  /** Process group of the target (the proxy; the upstream for `direct`). */
  pgid?: number;
  peak?: WrkResult & { cpu: Cpu };
  peakRounds: (WrkResult & { cpu: Cpu })[];
  fixedRounds: FixedRun[];
  fixed?: FixedRun & { addedP99Ms: number | null };
  /** hey's fixed-rate figures beside the primary generator's (`--latency-generator both`). */
  hey?: LatencySeries;
}

export interface Verdict {
  name: string;
  requirement: string;
  value: number | null;
  pass: boolean | null;
  detail: string;
}

export interface PlainOptions extends LatencyOptions {
  /** --fixed-rate: the latency phase's requests/s instead of half of the cutover peak. */
  fixedRate: number | null;
  rounds: number;
  warmupS: number;
  workers: number;
}

export interface PlainRun {
  results: TargetResult[];
  rate: number;
  rateBase: { from: string; rps: number } | null;
  verdicts: Verdict[];
  rpsRatio: number | null;
}

/** peak rps of `r` over that of `base`, or null. */
export function ratioTo(r: TargetResult | undefined, base: TargetResult | undefined): number | null {
  const a = r?.peak?.rps;
  const b = base?.peak?.rps;
  return a !== undefined && b ? a / b : null;
}

export async function runPlainRows(
  procs: Procs,
  o: PlainOptions,
  results: TargetResult[],
  upstreamPgid: number | undefined,
  hasHey: boolean,
  notes: string[],
  log: (msg: string) => void,
): Promise<PlainRun> {
  const byName = (n: TargetName): TargetResult | undefined => results.find((r) => r.name === n);
  // (a) Peak throughput: bursts of foreign load only ever lower a figure, so the best round counts.
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
  else {
    const proxies = results.filter((r) => r.name !== 'direct' && r.peak);
    const slowest = proxies.sort((a, b) => (a.peak?.rps ?? 0) - (b.peak?.rps ?? 0))[0];
    const base = slowest ?? byName('direct');
    if (base?.peak) rateBase = { from: base.name, rps: base.peak.rps };
    notes.push(
      `cutover has no peak figure, so the fixed rate is half of the ${rateBase?.from ?? '?'} peak instead.`,
    );
  }
  let rate = rateBase ? Math.max(1, Math.floor(rateBase.rps / 2)) : 0;
  if (o.fixedRate !== null) {
    rate = o.fixedRate;
    notes.push(`--fixed-rate ${rate}: the latency columns are at that rate, not at half of a peak.`);
  }
  await runLatencyPhase(procs, o, results, upstreamPgid, rate, hasHey, notes, log);

  // Verdicts against the spec's targets.
  const nginxPeak = byName('nginx')?.peak?.rps ?? null;
  const cutPeak = cut?.peak?.rps ?? null;
  const cutAdded = cut?.fixed?.addedP99Ms ?? null;
  const rpsRatio = ratioTo(cut, byName('nginx'));
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
    const errs =
      sum(r.peakRounds.map((x) => x.errors)) +
      sum(r.fixedRounds.map((x) => x.errors + (x.transportErrors ?? 0)));
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
      'load than raw rps. x nginx / x caddy = peak rps / the nginx (caddy) peak rps of this run.',
    results.some((r) => r.fixed?.generator === 'fixed-rate')
      ? 'Fixed-rate latencies come from bench/lib/fixed-rate.c (open loop: request i is due at i/rate on ' +
          'connection i mod N, its latency counts from when it was due, so a stall counts for every request ' +
          'behind it; microsecond resolution; one thread, less than half the CPU hey needs at the same rate): p50/p99/p99.9 are nearest-rank over every response; added p99 is target p99 - direct p99 at ' +
          'the same rate; errors count non-2xx responses and transport errors.'
      : 'Fixed-rate latencies come from hey -o csv (one line per response, 0.1 ms resolution): p50/p99/p99.9 are ' +
          'nearest-rank over every response; added p99 is target p99 - direct p99 at the same fixed rate. The CSV ' +
          'has no transport errors, so the fixed-rate errors column counts non-2xx responses only.',
    'Logging is off everywhere: nginx access_log off, HAProxy without log, Caddy at level ERROR, cutover with ' +
      'CUTOVER_LOG_LEVEL=warn.',
  );
  return { results, rate, rateBase, verdicts, rpsRatio };
}
