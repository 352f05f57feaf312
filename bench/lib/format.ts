/** Number formatting and the text table of the benchmark reports. */

import type { Cpu } from './measure.ts';

export const fmtInt = (n: number | null | undefined): string =>
  n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US');
export const fmtMs = (n: number | null | undefined): string =>
  n === null || n === undefined ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1);
export const fmtCpu = (c: Cpu | undefined): string =>
  c === undefined ? '-' : `${c.target}/${c.upstream ?? '-'}/${c.generator}/${c.other ?? '-'}`;
/** Requests per second per core of CPU the target used: robust to foreign load stealing CPU. */
export const perCore = (w: { rps: number; cpu: Cpu } | undefined): number | null =>
  w && w.cpu.target > 0 ? (w.rps * 100) / w.cpu.target : null;
export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
export const round = (n: number | null, digits = 3): number | null =>
  n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits;

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r
      .map((cell, i) => (i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n').replace(/ +$/gm, '');
}
