/** The policy rows' table (bench/lib/policy-rows.ts measures them). */

import { fmtCpu, fmtInt, fmtMs, perCore, sum, table } from './format.ts';
import type { Options } from './options.ts';
import { fmtRatio } from './plain-report.ts';
import type { PolicyRow } from './policy-rows.ts';

const signed = (x: number | null): string => (x === null ? '-' : `${x >= 0 ? '+' : ''}${fmtMs(x)}`);

export function policyText(
  rows: PolicyRow[],
  o: Options,
  rate: number,
  heyC: number,
  notes: string[],
): string {
  const plainOf = (r: PolicyRow): PolicyRow | undefined =>
    rows.find((x) => x.target === r.target && x.policy === 'plain');
  const out: string[][] = [
    [
      'target',
      'policy',
      'peak rps',
      'x plain',
      'p99 ms',
      'cpu% t/u/g/o',
      'rps/core',
      'x plain/core',
      '@rate rps',
      'p99 ms',
      'p99.9 ms',
      'p99 vs plain',
      'non-2xx',
      '429',
      'config',
    ],
  ];
  for (const r of rows) {
    const plain = plainOf(r);
    const ratio = r.peak && plain?.peak?.rps ? r.peak.rps / plain.peak.rps : null;
    const core = perCore(r.peak);
    const plainCore = perCore(plain?.peak);
    const coreRatio = core !== null && plainCore ? core / plainCore : null;
    const p99 = r.fixed?.p99Ms ?? null;
    const plainP99 = plain?.fixed?.p99Ms ?? null;
    const non2xx = sum(r.peakRounds.map((x) => x.non2xx)) + sum(r.fixedRounds.map((x) => x.errors));
    const s429 = sum(r.fixedRounds.map((x) => x.statuses['429'] ?? 0));
    out.push([
      r.target,
      r.policy,
      fmtInt(r.peak?.rps),
      r.policy === 'plain' ? '1.00x' : fmtRatio(ratio),
      fmtMs(r.peak?.p99Ms),
      fmtCpu(r.peak?.cpu),
      fmtInt(core),
      r.policy === 'plain' ? '1.00x' : fmtRatio(coreRatio),
      fmtInt(r.fixed?.rps),
      fmtMs(p99),
      fmtMs(r.fixed?.p999Ms),
      r.policy === 'plain' || p99 === null || plainP99 === null ? '-' : signed(p99 - plainP99),
      String(non2xx),
      String(s429),
      r.config,
    ]);
  }
  const header =
    `Policy rows: ${o.workers} worker(s) each, two upstream instances; peak: wrk -t${o.threads} -c${o.connections} ` +
    `-d${o.durationS}s -s x-user.lua; fixed rate: hey -z ${o.durationS}s -c ${heyC} -o csv -H "x-user: user-1" at ` +
    `${fmtInt(rate)} req/s\n${o.rounds} interleaved round(s); best counts; non-2xx summed over all rounds ` +
    "(wrk non-2xx + hey non-2xx), 429 from hey's status codes\n";
  return `${header}\n${table(out)}\n\nPolicy notes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`;
}
