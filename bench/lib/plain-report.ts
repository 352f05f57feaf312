/** The plain rows' table and JSON (bench/lib/plain-rows.ts measures them). */

import { fmtCpu, fmtInt, fmtMs, perCore, round, sum, table } from './format.ts';
import { fixedRunJson } from './latency-phase.ts';
import { heyWorkers } from './measure.ts';
import type { Options } from './options.ts';
import {
  MAX_ADDED_P99_MS,
  MIN_RPS_RATIO_VS_NGINX,
  type PlainRun,
  ratioTo,
  type TargetResult,
  type Verdict,
} from './plain-rows.ts';

export const fmtRatio = (x: number | null): string => (x === null ? '-' : `${x.toFixed(2)}x`);
/** An added p99 with its sign, or '-'. */
const fmtAdded = (x: number | null | undefined): string =>
  x === null || x === undefined ? '-' : `${x >= 0 ? '+' : ''}${fmtMs(x)}`;
const mark = (v: Verdict | undefined): string => (!v || v.pass === null ? 'n/a' : v.pass ? 'PASS' : 'FAIL');

export function plainText(run: PlainRun, o: Options, upstreamKind: string, notes: string[]): string {
  const { results, rate, rateBase, verdicts } = run;
  const byName = (n: string): TargetResult | undefined => results.find((r) => r.name === n);
  const nginx = byName('nginx');
  const caddy = byName('caddy');
  const cutAdded = byName('cutover')?.fixed?.addedP99Ms ?? null;
  const verdictCell = (r: TargetResult): string => {
    if (r.skipped && !r.peak) return `skipped: ${r.skipped.split('\n')[0].slice(0, 100)}`;
    if (r.name === 'cutover') {
      return (
        `rps >=${MIN_RPS_RATIO_VS_NGINX}x nginx: ${mark(verdicts[0])}; ` +
        `+p99 ${fmtMs(cutAdded)} ms <${MAX_ADDED_P99_MS}: ${mark(verdicts[1])}`
      );
    }
    return r.name === 'direct' ? 'baseline' : '';
  };
  const rows: string[][] = [
    [
      'target',
      'peak rps',
      'x nginx',
      'x caddy',
      'p50 ms',
      'p99 ms',
      'errors',
      'cpu% t/u/g/o',
      'rps/core',
      '@rate rps',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      '+p99 ms',
      'non-2xx',
      'cpu% t/u/g/o',
      'verdict',
    ],
  ];
  for (const r of results) {
    rows.push([
      r.name,
      fmtInt(r.peak?.rps),
      fmtRatio(ratioTo(r, nginx)),
      fmtRatio(ratioTo(r, caddy)),
      fmtMs(r.peak?.p50Ms),
      fmtMs(r.peak?.p99Ms),
      r.peak ? String(sum(r.peakRounds.map((x) => x.errors))) : '-',
      fmtCpu(r.peak?.cpu),
      fmtInt(perCore(r.peak)),
      fmtInt(r.fixed?.rps),
      fmtMs(r.fixed?.p50Ms),
      fmtMs(r.fixed?.p99Ms),
      fmtMs(r.fixed?.p999Ms),
      fmtAdded(r.fixed?.addedP99Ms),
      r.fixed ? String(sum(r.fixedRounds.map((x) => x.errors + (x.transportErrors ?? 0)))) : '-',
      fmtCpu(r.fixed?.cpu),
      verdictCell(r),
    ]);
  }
  const header =
    `Cutover gateway benchmark: ${o.workers} worker(s) per proxy, upstream ${upstreamKind}\n` +
    `peak: wrk -t${o.threads} -c${o.connections} -d${o.durationS}s (after ${o.warmupS}s warmup); ` +
    `fixed rate: ${fixedGenerator(results, o.durationS, heyWorkers(rate, o.heyConcurrency))} at ${fmtInt(rate)} req/s ` +
    `(half of the ${rateBase?.from ?? '?'} peak)\n` +
    `${o.rounds} interleaved round(s) per measurement; the best counts (highest rps, lowest fixed-rate p99); ` +
    'errors are summed over all rounds\n';
  const verdictLines = verdicts.map((v) => `  [${mark(v)}] ${v.requirement}: ${v.detail}`).join('\n');
  const noteLines = notes.map((n) => `  - ${n}`).join('\n');
  return `${header}\n${table(rows)}\n${heyTable(results)}\nTargets:\n${verdictLines}\n\nNotes:\n${noteLines}\n\n`;
}

/** The generator of the fixed-rate columns, as a command line. */
function fixedGenerator(results: TargetResult[], durationS: number, connections: number): string {
  const kind = results.find((r) => r.fixed)?.fixed?.generator;
  if (kind === 'fixed-rate') return `fixed-rate ${durationS}s over ${connections} connections`;
  return `hey -z ${durationS}s -c ${connections} -o csv`;
}

/** hey's fixed-rate figures beside fixed-rate.c's (`--latency-generator both`), or nothing. */
function heyTable(results: TargetResult[]): string {
  const measured = results.filter((r) => r.hey?.best);
  if (measured.length === 0) return '';
  const rows: string[][] = [
    ['target', 'hey @rate rps', 'p50 ms', 'p99 ms', 'p99.9 ms', '+p99 ms', 'hey cpu%', 'fixed-rate cpu%'],
  ];
  for (const r of measured) {
    const h = r.hey?.best;
    rows.push([
      r.name,
      fmtInt(h?.rps),
      fmtMs(h?.p50Ms),
      fmtMs(h?.p99Ms),
      fmtMs(h?.p999Ms),
      fmtAdded(h?.addedP99Ms),
      String(h?.cpu.generator ?? '-'),
      String(r.fixed?.cpu.generator ?? '-'),
    ]);
  }
  return `\nThe same fixed rate measured with hey -o csv in the same run (its best round; generator CPU in % of one core):\n${table(rows)}\n`;
}

/** Every round's raw numbers, beside the best one. */
export function plainJson(run: PlainRun): unknown {
  const { results } = run;
  const nginx = results.find((r) => r.name === 'nginx');
  const caddy = results.find((r) => r.name === 'caddy');
  return results.map((r) => ({
    name: r.name,
    skipped: r.skipped ?? null,
    rpsRatioToNginx: round(ratioTo(r, nginx), 3),
    rpsRatioToCaddy: round(ratioTo(r, caddy), 3),
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
            requests: x.requests,
            p50Ms: round(x.p50Ms),
            p99Ms: round(x.p99Ms),
            errors: x.errors,
            non2xx: x.non2xx,
            socketErrors: x.socketErrors,
            cpuPercent: x.cpu,
          })),
        }
      : null,
    fixed: r.fixed
      ? {
          targetRps: r.fixed.targetRate,
          ...fixedRunJson(r.fixed),
          addedP99Ms: r.fixed.addedP99Ms,
          errorSamples: r.fixed.errorSamples,
          rounds: r.fixedRounds.map(fixedRunJson),
        }
      : null,
    hey: r.hey?.best
      ? {
          ...fixedRunJson(r.hey.best),
          addedP99Ms: r.hey.best.addedP99Ms,
          rounds: r.hey.rounds.map(fixedRunJson),
        }
      : null,
  }));
}
