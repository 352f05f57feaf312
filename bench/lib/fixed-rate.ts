/**
 * The fixed-rate latency generator (fixed-rate.c): built with the system's C compiler on first use into
 * node_modules/.cache, then run like hey. Where no compiler is found the benchmark uses hey instead and
 * says so.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeyCsvResult } from './hey-csv.ts';
import type { OnSpawn } from './measure.ts';
import type { Procs } from './procs.ts';

const SOURCE = fileURLToPath(new URL('./fixed-rate.c', import.meta.url));
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/cutover-bench/', import.meta.url));
const BINARY = path.join(CACHE, 'fixed-rate');

/** What fixed-rate.c prints (latencies in microseconds). */
export interface FixedRateOutput {
  asked: number;
  done: number;
  errors: number;
  non2xx: number;
  reconnects: number;
  seconds: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  sentP50Us: number;
  sentP99Us: number;
  sentP999Us: number;
}

/** Latencies as the benchmark reports them; `sent*`: from when the request was written, not when due. */
export type FixedRateResult = HeyCsvResult & {
  generator: 'fixed-rate';
  /** Requests that failed on the socket (reset, closed, not HTTP). */
  transportErrors: number;
  reconnects: number;
  maxMs: number;
  sentP50Ms: number;
  sentP99Ms: number;
  sentP999Ms: number;
};

/** The path of the built generator, built now if it is missing or older than its source; null: no compiler. */
export function fixedRateBinary(log: (line: string) => void): string | null {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(CACHE, { recursive: true });
  for (const cc of ['cc', 'gcc', 'clang']) {
    try {
      execFileSync(cc, ['-O2', '-o', BINARY, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
      log(`built the fixed-rate generator with ${cc}: ${BINARY}`);
      return BINARY;
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code !== 'ENOENT') log(`${cc} could not build ${SOURCE}: ${e.stderr?.toString() ?? e.message}`);
    }
  }
  return null;
}

/** fixed-rate.c's JSON line as the benchmark's result (ms, like hey's figures). */
export function parseFixedRate(out: string): FixedRateResult {
  const line = out.trim().split('\n').pop() ?? '';
  let o: FixedRateOutput;
  try {
    o = JSON.parse(line) as FixedRateOutput;
  } catch {
    throw new Error(`unrecognised fixed-rate output:\n${out.slice(0, 2000)}`);
  }
  const ms = (us: number): number => us / 1000;
  const errors = o.non2xx;
  return {
    generator: 'fixed-rate',
    requests: o.done,
    rps: o.rps,
    p50Ms: o.done > 0 ? ms(o.p50Us) : null,
    p99Ms: o.done > 0 ? ms(o.p99Us) : null,
    p999Ms: o.done > 0 ? ms(o.p999Us) : null,
    statuses: {},
    errors,
    errorSamples: [
      ...(errors > 0 ? [`${errors}x status outside 2xx`] : []),
      ...(o.errors > 0 ? [`${o.errors}x transport error`] : []),
    ],
    transportErrors: o.errors,
    reconnects: o.reconnects,
    maxMs: ms(o.maxUs),
    sentP50Ms: ms(o.sentP50Us),
    sentP99Ms: ms(o.sentP99Us),
    sentP999Ms: ms(o.sentP999Us),
  };
}

/** `rate` requests/s for `durationS` over `connections` keep-alive connections to `url` (http, IPv4). */
export async function runFixedRate(
  procs: Procs,
  binary: string,
  url: string,
  rate: number,
  durationS: number,
  connections: number,
  onSpawn?: OnSpawn,
): Promise<FixedRateResult & { asked: number }> {
  const u = new URL(url);
  const args = [u.hostname, u.port || '80', `${u.pathname}${u.search}`, String(rate), String(durationS)];
  args.push(String(connections));
  const r = await procs.capture('fixed-rate', binary, args, (durationS + 60) * 1000, onSpawn);
  if (r.code !== 0) throw new Error(`fixed-rate exited ${r.code}: ${r.stderr}${r.stdout.slice(0, 2000)}`);
  return { ...parseFixedRate(r.stdout), asked: Math.round(rate * durationS) };
}
