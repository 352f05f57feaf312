/**
 * `hey -o csv` (0.1.x): one line per response, which is what p99.9 needs (hey's summary stops at p99).
 * The CSV holds only requests that got a response: hey drops transport errors from it, so `errors` here
 * counts non-2xx responses only, and `missing` (asked for - answered) is the only trace of the rest.
 */

import { percentileOf } from './parse.ts';

export interface HeyCsvResult {
  /** Responses in the CSV. */
  requests: number;
  rps: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  statuses: Record<string, number>;
  /** Responses outside 2xx. */
  errors: number;
  errorSamples: string[];
}

/** `out`: hey's stdout with `-o csv`; `durationS`: its `-z`, the denominator of the rate. */
export function parseHeyCsv(out: string, durationS: number): HeyCsvResult {
  const lines = out.split('\n');
  const head = lines.findIndex((l) => l.startsWith('response-time,'));
  if (head < 0) throw new Error(`unrecognised hey csv output:\n${out.slice(0, 2000)}`);
  const cols = lines[head].trim().split(',');
  const timeCol = cols.indexOf('response-time');
  const statusCol = cols.indexOf('status-code');
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  for (const line of lines.slice(head + 1)) {
    const f = line.trim().split(',');
    if (f.length < cols.length) continue;
    const seconds = Number(f[timeCol]);
    const status = f[statusCol];
    if (!Number.isFinite(seconds) || !/^\d{3}$/.test(status)) continue;
    latencies.push(seconds * 1000);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (!status.startsWith('2')) errors++;
  }
  latencies.sort((a, b) => a - b);
  const errorSamples = Object.entries(statuses)
    .filter(([s]) => !s.startsWith('2'))
    .slice(0, 3)
    .map(([s, n]) => `${n}x status ${s}`);
  return {
    requests: latencies.length,
    rps: durationS > 0 ? latencies.length / durationS : 0,
    p50Ms: percentileOf(latencies, 50),
    p99Ms: percentileOf(latencies, 99),
    p999Ms: percentileOf(latencies, 99.9),
    statuses,
    errors,
    errorSamples,
  };
}
