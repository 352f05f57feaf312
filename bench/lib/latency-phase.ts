/**
 * Phase (b) of the plain rows: latency at a fixed rate, per target, rounds interleaved, the round with the
 * lowest p99 counting. The generator is fixed-rate.c (open loop, less than half of hey's CPU) when it builds,
 * else hey; `--latency-generator both` runs hey too, into its own figures, so the two can be compared in
 * one run.
 */

import { fixedRateBinary, runFixedRate } from './fixed-rate.ts';
import { fmtInt, fmtMs, round } from './format.ts';
import type { HeyCsvResult } from './hey-csv.ts';
import { type Cpu, heyWorkers, type LoadOptions, runHeyCsv, withCpu } from './measure.ts';
import type { TargetResult } from './plain-rows.ts';
import type { Procs } from './procs.ts';

export type LatencyGenerator = 'auto' | 'fixed-rate' | 'hey' | 'both';
export const LATENCY_GENERATORS: LatencyGenerator[] = ['auto', 'fixed-rate', 'hey', 'both'];

export type FixedRun = HeyCsvResult & {
  generator: 'fixed-rate' | 'hey';
  asked: number;
  targetRate: number;
  cpu: Cpu;
  /** fixed-rate only: requests lost on the socket (hey's CSV cannot show them). */
  transportErrors?: number;
  /** fixed-rate only: p99 counted from when the request was written instead of when it was due. */
  sentP99Ms?: number;
};

/** A target's latency figures from one generator: every round, and the best with its added p99. */
export interface LatencySeries {
  rounds: FixedRun[];
  best?: FixedRun & { addedP99Ms: number | null };
}

export interface LatencyOptions extends LoadOptions {
  rounds: number;
  latencyGenerator: LatencyGenerator;
}

/** Which generators run: the primary (its figures are `fixed`) and whether hey runs beside it. */
export function chooseGenerators(
  wanted: LatencyGenerator,
  hasHey: boolean,
  log: (line: string) => void,
  notes: string[],
): { primary: { kind: 'fixed-rate'; binary: string } | { kind: 'hey' } | null; heyToo: boolean } {
  const binary = wanted === 'hey' ? null : fixedRateBinary(log);
  if (wanted === 'fixed-rate' && binary === null)
    throw new Error(
      '--latency-generator fixed-rate: no C compiler (cc, gcc or clang) built bench/lib/fixed-rate.c',
    );
  if (binary !== null)
    return { primary: { kind: 'fixed-rate', binary }, heyToo: wanted === 'both' && hasHey };
  if (!hasHey) {
    notes.push(
      'neither a C compiler (for bench/lib/fixed-rate.c) nor hey is installed: fixed-rate latency skipped.',
    );
    return { primary: null, heyToo: false };
  }
  if (wanted !== 'hey')
    notes.push('no C compiler for bench/lib/fixed-rate.c: fixed-rate latency measured with hey.');
  return { primary: { kind: 'hey' }, heyToo: false };
}

const p99 = (x: { p99Ms: number | null }): number => x.p99Ms ?? Number.POSITIVE_INFINITY;

export async function runLatencyPhase(
  procs: Procs,
  o: LatencyOptions,
  results: TargetResult[],
  upstreamPgid: number | undefined,
  rate: number,
  hasHey: boolean,
  notes: string[],
  log: (msg: string) => void,
): Promise<void> {
  const { primary, heyToo } = chooseGenerators(o.latencyGenerator, hasHey, log, notes);
  if (primary === null || rate <= 0) return;
  const connections = heyWorkers(rate, o.heyConcurrency);
  const one = async (r: TargetResult, url: string, kind: 'fixed-rate' | 'hey'): Promise<FixedRun> => {
    const run = await withCpu(r.pgid, upstreamPgid, (onSpawn) =>
      kind === 'hey' || primary.kind === 'hey'
        ? runHeyCsv(procs, o, url, rate, onSpawn)
        : runFixedRate(procs, primary.binary, url, rate, o.durationS, connections, onSpawn),
    );
    const f: FixedRun = { ...run, generator: kind, targetRate: rate };
    log(
      `  ${kind}: ${fmtInt(f.rps)} req/s, p50 ${fmtMs(f.p50Ms)} ms, p99 ${fmtMs(f.p99Ms)} ms, ` +
        `p99.9 ${fmtMs(f.p999Ms)} ms, non-2xx ${f.errors}` +
        (f.transportErrors ? `, transport errors ${f.transportErrors}` : '') +
        `, generator cpu ${f.cpu.generator}%`,
    );
    return f;
  };
  for (let roundNo = 1; roundNo <= o.rounds; roundNo++) {
    for (const r of results) {
      if (!r.url || !r.peak) continue;
      log(
        `fixed rate ${r.name} (round ${roundNo}/${o.rounds}): ${primary.kind} ${o.durationS}s at ${rate} req/s ` +
          `over ${connections} connections`,
      );
      try {
        const run = await one(r, r.url, primary.kind);
        r.fixedRounds.push(run);
        if (!r.fixed || p99(run) < p99(r.fixed)) r.fixed = { ...run, addedP99Ms: null };
        if (heyToo) {
          const h = await one(r, r.url, 'hey');
          r.hey ??= { rounds: [] };
          r.hey.rounds.push(h);
          if (!r.hey.best || p99(h) < p99(r.hey.best)) r.hey.best = { ...h, addedP99Ms: null };
        }
      } catch (err) {
        notes.push(`fixed-rate latency failed for ${r.name}: ${(err as Error).message}`);
      }
    }
  }
  const direct = results.find((r) => r.name === 'direct');
  const directP99 = direct?.fixed?.p99Ms ?? null;
  const directHeyP99 = direct?.hey?.best?.p99Ms ?? null;
  if (directP99 !== null && directP99 >= 0.5) {
    notes.push(
      `At ${fmtInt(rate)} req/s the direct p99 is already ${fmtMs(directP99)} ms: that is the floor of ` +
        'generator + kernel scheduling noise on this machine, and added-p99 figures carry noise of that order.',
    );
  }
  for (const r of results) {
    if (r.fixed && r.fixed.p99Ms !== null && directP99 !== null)
      r.fixed.addedP99Ms = round(r.fixed.p99Ms - directP99, 4);
    const hb = r.hey?.best;
    if (hb && hb.p99Ms !== null && directHeyP99 !== null) hb.addedP99Ms = round(hb.p99Ms - directHeyP99, 4);
    if (r.fixed && r.fixed.rps < 0.9 * rate) {
      notes.push(
        `${r.name}: ${r.fixed.generator} got only ${fmtInt(r.fixed.rps)} of the ${fmtInt(rate)} req/s asked for answered ` +
          '(the generator or the target could not keep up, or requests failed).',
      );
    }
  }
}

/** A fixed-rate run's figures for the benchmark's JSON (plain and policy rows alike). */
export function fixedRunJson(x: FixedRun) {
  return {
    generator: x.generator,
    rps: round(x.rps, 1),
    asked: x.asked,
    requests: x.requests,
    p50Ms: round(x.p50Ms),
    p99Ms: round(x.p99Ms),
    p999Ms: round(x.p999Ms),
    ...(x.sentP99Ms === undefined ? {} : { sentP99Ms: round(x.sentP99Ms) }),
    non2xx: x.errors,
    ...(x.transportErrors === undefined ? {} : { transportErrors: x.transportErrors }),
    statuses: x.statuses,
    cpuPercent: x.cpu,
  };
}
