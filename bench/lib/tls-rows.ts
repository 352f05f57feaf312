/**
 * The TLS rows of `npm run bench`: nginx, Caddy and Cutover serving the same certificate in front of the
 * same upstream with the same worker count. HTTPS keep-alive (wrk peak, hey at half of Cutover's HTTPS
 * peak), new TLS connections per second (full handshakes, bench/lib/handshake-load.ts), HTTP/2 over TLS
 * (h2load), and the p99 TLS adds to Cutover (its HTTPS p99 - its plain-HTTP p99, same process, same rate).
 * Rounds interleave the targets; the best round counts, errors are summed over all rounds.
 */

import path from 'node:path';
import { fmtCpu, fmtInt, fmtMs } from './format.ts';
import {
  type Cpu,
  type H2loadLoad,
  type HandshakeLoad,
  heyWorkers,
  type LoadOptions,
  type OnSpawn,
  runH2load,
  runHandshakes,
  runHey,
  runWrk,
  withCpu,
} from './measure.ts';
import type { H2loadResult, HandshakeResult, HeyResult, WrkResult } from './parse.ts';
import type { Procs } from './procs.ts';
import { report, type TlsReport } from './tls-report.ts';

export type TlsTargetName = 'nginx' | 'caddy' | 'cutover';
export const TLS_TARGETS: TlsTargetName[] = ['nginx', 'caddy', 'cutover'];
export type TlsRowName = 'https' | 'handshakes' | 'h2';
export const TLS_ROWS: TlsRowName[] = ['https', 'handshakes', 'h2'];

export interface TlsTarget {
  name: TlsTargetName;
  /** The HTTPS URL (https://127.0.0.1:port/). */
  url?: string;
  port?: number;
  pgid?: number;
  skipped?: string;
  /** Cutover only: the plain-HTTP URL of the same gateway, for the p99 TLS adds. */
  plainUrl?: string;
}

export interface TlsRowsOptions extends LoadOptions {
  rows: TlsRowName[];
  rounds: number;
  warmupS: number;
  servername: string;
  h2: H2loadLoad;
  handshakes: HandshakeLoad;
}

export interface TlsContext {
  procs: Procs;
  tmp: string;
  o: TlsRowsOptions;
  targets: TlsTarget[];
  upstreamPgid: number | undefined;
  log: (msg: string) => void;
}

export type WithCpu<T> = T & { cpu: Cpu };

export interface Measured<T> {
  best?: WithCpu<T>;
  rounds: WithCpu<T>[];
  errors: string[];
}

export interface TargetRuns {
  target: TlsTarget;
  peak: Measured<WrkResult>;
  fixed: Measured<HeyResult>;
  /** Cutover only: plain HTTP at the same fixed rate, right after its HTTPS run in each round. */
  plainFixed: Measured<HeyResult>;
  handshakes: Measured<HandshakeResult>;
  h2: Measured<H2loadResult>;
}

const measured = <T>(): Measured<T> => ({ rounds: [], errors: [] });

/**
 * Runs `run` for every live target, `rounds` times interleaved; keeps the best result by `better`
 * (higher `score` wins) and every round's errors.
 */
async function rounds<T extends object>(
  ctx: TlsContext,
  runs: TargetRuns[],
  label: string,
  pickMeasured: (r: TargetRuns) => Measured<T>,
  score: (x: T) => number,
  run: (r: TargetRuns, seconds: number, onSpawn?: OnSpawn) => Promise<T>,
  describe: (x: WithCpu<T>) => string,
): Promise<void> {
  const { o } = ctx;
  for (let round = 1; round <= o.rounds; round++) {
    for (const r of runs) {
      if (!r.target.url) continue;
      const m = pickMeasured(r);
      if (round === 1 && o.warmupS > 0) {
        await run(r, o.warmupS).catch(() => undefined);
      }
      ctx.log(`${label} ${r.target.name} (round ${round}/${o.rounds})`);
      try {
        const x = await withCpu(r.target.pgid, ctx.upstreamPgid, (onSpawn) => run(r, o.durationS, onSpawn));
        m.rounds.push(x);
        if (!m.best || score(x) > score(m.best)) m.best = x;
        ctx.log(`  ${describe(x)}, cpu ${fmtCpu(x.cpu)}`);
      } catch (err) {
        m.errors.push((err as Error).message.split('\n')[0].slice(0, 300));
        ctx.log(`  failed: ${m.errors.at(-1)}`);
      }
    }
  }
}

const lowerIsBetter = (ms: number | null): number => (ms === null ? Number.NEGATIVE_INFINITY : -ms);

export async function runTlsRows(ctx: TlsContext): Promise<TlsReport> {
  const { o, procs } = ctx;
  const notes: string[] = [];
  const runs: TargetRuns[] = ctx.targets.map((target) => ({
    target,
    peak: measured(),
    fixed: measured(),
    plainFixed: measured(),
    handshakes: measured(),
    h2: measured(),
  }));
  const by = (n: TlsTargetName): TargetRuns | undefined => runs.find((r) => r.target.name === n);
  const cut = by('cutover');
  let rate = 0;
  let rateFrom: string | null = null;

  if (o.rows.includes('https')) {
    await rounds(
      ctx,
      runs,
      `https peak: wrk -t${o.threads} -c${o.connections} -d${o.durationS}s`,
      (r) => r.peak,
      (x) => x.rps,
      (r, s, onSpawn) => runWrk(procs, o, r.target.url ?? '', s, onSpawn),
      (x) => `${fmtInt(x.rps)} req/s, p99 ${fmtMs(x.p99Ms)} ms, errors ${x.errors}`,
    );
    // Half of Cutover's HTTPS peak (the slowest peak measured when Cutover has none).
    const base = cut?.peak.best
      ? cut
      : runs.filter((r) => r.peak.best).sort((a, b) => (a.peak.best?.rps ?? 0) - (b.peak.best?.rps ?? 0))[0];
    if (base?.peak.best) {
      rate = Math.max(1, Math.floor(base.peak.best.rps / 2));
      rateFrom = base.target.name;
      if (base !== cut)
        notes.push(`cutover has no HTTPS peak: the fixed rate is half of the ${rateFrom} peak.`);
    }
    if (rate > 0) {
      const heyOnce = (url: string, s: number, onSpawn?: OnSpawn): Promise<HeyResult> =>
        runHey(procs, { ...o, durationS: s }, url, rate, onSpawn, o.servername);
      const p99 = (x: HeyResult): number => lowerIsBetter(x.p99Ms);
      const heyText = (x: HeyResult): string =>
        `${fmtInt(x.rps)} req/s, p50 ${fmtMs(x.p50Ms)} ms, p99 ${fmtMs(x.p99Ms)} ms, errors ${x.errors}`;
      const label = `https at ${fmtInt(rate)} req/s: hey over ${heyWorkers(rate, o.heyConcurrency)} workers`;
      // HTTPS and, for cutover, plain HTTP on the same process interleave within each round.
      const sub = { ...ctx, o: { ...o, rounds: 1, warmupS: 0 } };
      const plainUrl = cut?.target.plainUrl;
      const plainRuns = cut && plainUrl ? [{ ...cut, target: { ...cut.target, url: plainUrl } }] : [];
      const viaHey = (r: TargetRuns, s: number, sp?: OnSpawn): Promise<HeyResult> =>
        heyOnce(r.target.url ?? '', s, sp);
      for (let round = 1; round <= o.rounds; round++) {
        const of = `[${round}/${o.rounds}]`;
        await rounds(sub, runs, `${label} ${of}`, (r) => r.fixed, p99, viaHey, heyText);
        // plainRuns share cutover's plainFixed record.
        await rounds(sub, plainRuns, `${label}, plain http ${of}`, (r) => r.plainFixed, p99, viaHey, heyText);
      }
    }
  }

  if (o.rows.includes('handshakes')) {
    const h = o.handshakes;
    await rounds(
      ctx,
      runs,
      `new TLS connections: ${h.threads} thread(s) x ${h.concurrency} loops, one request per connection`,
      (r) => r.handshakes,
      (x) => x.rate,
      (r, s, onSpawn) => runHandshakes(procs, h, r.target.port ?? 0, s, onSpawn),
      (x) => `${fmtInt(x.rate)} handshakes/s, p99 ${fmtMs(x.p99Ms)} ms, errors ${x.errors}`,
    );
  }

  if (o.rows.includes('h2')) {
    let n = 0;
    await rounds(
      ctx,
      runs,
      `h2: h2load -c ${o.h2.clients} -m ${o.h2.streams} -D ${o.durationS}`,
      (r) => r.h2,
      (x) => x.rps,
      (r, s, onSpawn) =>
        runH2load(
          procs,
          o.h2,
          r.target.port ?? 0,
          s,
          path.join(ctx.tmp, `h2load-${r.target.name}-${n++}.log`),
          onSpawn,
        ),
      (x) => `${fmtInt(x.rps)} req/s, p50 ${fmtMs(x.p50Ms)} ms, p99 ${fmtMs(x.p99Ms)} ms, errors ${x.errors}`,
    );
  }

  return report(ctx, runs, rate, rateFrom, notes);
}

export type { TlsReport };
