/** Running the load generators (wrk, hey, h2load, the handshake loop) and measuring CPU meanwhile. */

import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type HeyCsvResult, parseHeyCsv } from './hey-csv.ts';
import {
  type H2loadResult,
  type HandshakeResult,
  type HeyResult,
  parseH2load,
  parseHandshakes,
  parseHey,
  parseWrk,
  type WrkResult,
} from './parse.ts';
import { busyPercent, groupCpuSeconds, machineJiffies, type Procs } from './procs.ts';

/** What the generators need of the benchmark's options. */
export interface LoadOptions {
  durationS: number;
  connections: number;
  threads: number;
  /** null: auto (see heyWorkers). */
  heyConcurrency: number | null;
}

/** CPU used during a run, in % of one core. */
export interface Cpu {
  target: number;
  upstream: number | null;
  /** The load generator (wrk or hey), sampled every 200 ms while it runs. */
  generator: number;
  /** Everything else on the machine: foreign processes that disturbed the run. */
  other: number | null;
}

export type OnSpawn = (pid: number) => void;

/** Runs `fn` and measures the CPU the target, the upstream and the load generator used meanwhile. */
export async function withCpu<T>(
  target: number | undefined,
  upstream: number | undefined,
  fn: (onSpawn: OnSpawn) => Promise<T>,
): Promise<T & { cpu: Cpu }> {
  let generatorPid: number | undefined;
  let generatorSeconds = 0;
  const sampler = setInterval(() => {
    generatorSeconds = Math.max(generatorSeconds, groupCpuSeconds(generatorPid));
  }, 200);
  const sameGroup = target === upstream;
  const t0 = groupCpuSeconds(target);
  const u0 = sameGroup ? 0 : groupCpuSeconds(upstream);
  const m0 = machineJiffies();
  const start = performance.now();
  let result: T;
  try {
    result = await fn((pid) => {
      generatorPid = pid;
    });
  } finally {
    clearInterval(sampler);
  }
  const wall = (performance.now() - start) / 1000;
  const m1 = machineJiffies();
  const pct = (s: number): number => Math.round((s / wall) * 100);
  const targetPct = pct(groupCpuSeconds(target) - t0);
  const upstreamPct = sameGroup ? null : pct(groupCpuSeconds(upstream) - u0);
  const generatorPct = pct(generatorSeconds);
  const machine = busyPercent(m0, m1);
  const cpu: Cpu = {
    target: targetPct,
    upstream: upstreamPct,
    generator: generatorPct,
    other:
      machine === null
        ? null
        : Math.max(0, machine * os.cpus().length - targetPct - (upstreamPct ?? 0) - generatorPct),
  };
  return { ...result, cpu };
}

export async function runWrk(
  procs: Procs,
  o: LoadOptions,
  url: string,
  seconds: number,
  onSpawn?: OnSpawn,
  /** A wrk Lua script (`-s`), e.g. one that varies a header per request. */
  script?: string,
): Promise<WrkResult> {
  const threads = Math.min(o.threads, o.connections);
  const scriptArgs = script === undefined ? [] : ['-s', script];
  const args = [
    '-t',
    String(threads),
    '-c',
    String(o.connections),
    '-d',
    `${seconds}s`,
    '--latency',
    ...scriptArgs,
    url,
  ];
  const r = await procs.capture('wrk', 'wrk', args, (seconds + 30) * 1000, onSpawn);
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr}${r.stdout}`);
  return parseWrk(r.stdout);
}

/**
 * hey rate-limits each worker with a ticker and drops ticks while a request is still running, so a
 * worker must get a comfortable interval (>= ~1.8 ms) for the rate to hold: `auto` picks
 * ceil(rate / 550) workers, 16..64. Measured here: at 17k req/s 16 workers reached only ~15k req/s
 * and hey confined to one core (-cpus 1) only ~14k, while 32 workers on all cores held 17k.
 */
export function heyWorkers(rate: number, requested: number | null): number {
  const c = requested ?? Math.min(64, Math.max(16, Math.ceil(rate / 550)));
  return Math.max(1, Math.min(c, Math.floor(rate)));
}

export async function runHey(
  procs: Procs,
  o: LoadOptions,
  url: string,
  rate: number,
  onSpawn?: OnSpawn,
  /** Sets the Host header and, over https, the SNI (hey sends none to an IP address). */
  host?: string,
): Promise<HeyResult> {
  const c = heyWorkers(rate, o.heyConcurrency);
  const perWorker = rate / c;
  const hostArgs = host === undefined ? [] : ['-host', host];
  const args = [
    '-z',
    `${o.durationS}s`,
    '-q',
    perWorker.toFixed(3),
    '-c',
    String(c),
    '-t',
    '10',
    ...hostArgs,
    url,
  ];
  const r = await procs.capture('hey', 'hey', args, (o.durationS + 60) * 1000, onSpawn);
  if (r.code !== 0) throw new Error(`hey exited ${r.code}: ${r.stderr}${r.stdout}`);
  return parseHey(r.stdout);
}

/** h2load over TLS: `clients` connections with `streams` concurrent streams each, for `seconds`. */
export interface H2loadLoad {
  clients: number;
  streams: number;
  /** Name sent as SNI and :authority (h2load connects to 127.0.0.1 with --connect-to). */
  servername: string;
}

export async function runH2load(
  procs: Procs,
  load: H2loadLoad,
  port: number,
  seconds: number,
  logFile: string,
  onSpawn?: OnSpawn,
): Promise<H2loadResult> {
  const args = [
    '-D',
    String(seconds),
    '-c',
    String(load.clients),
    '-m',
    String(load.streams),
    '-t',
    '1',
    '--connect-to',
    `127.0.0.1:${port}`,
    '--log-file',
    logFile,
    `https://${load.servername}:${port}/`,
  ];
  const r = await procs.capture('h2load', 'h2load', args, (seconds + 30) * 1000, onSpawn);
  if (r.code !== 0) throw new Error(`h2load exited ${r.code}: ${r.stderr}${r.stdout}`);
  let log = '';
  try {
    log = readFileSync(logFile, 'utf8');
  } catch {
    // no log: percentiles stay null, the summary still counts
  }
  return parseH2load(r.stdout, log);
}

const HANDSHAKE_LOAD = path.join(import.meta.dirname, 'handshake-load.ts');

/** The full-handshake loop (bench/lib/handshake-load.ts) in its own process, for `seconds`. */
export interface HandshakeLoad {
  concurrency: number;
  threads: number;
  servername: string;
}

export async function runHandshakes(
  procs: Procs,
  load: HandshakeLoad,
  port: number,
  seconds: number,
  onSpawn?: OnSpawn,
): Promise<HandshakeResult> {
  const args = [
    HANDSHAKE_LOAD,
    '--port',
    String(port),
    '--servername',
    load.servername,
    '--concurrency',
    String(load.concurrency),
    '--threads',
    String(load.threads),
    '--duration',
    String(seconds),
  ];
  const r = await procs.capture('handshake-load', process.execPath, args, (seconds + 30) * 1000, onSpawn);
  if (r.code !== 0) throw new Error(`handshake-load exited ${r.code}: ${r.stderr}${r.stdout}`);
  return parseHandshakes(r.stdout);
}

/**
 * hey at a fixed rate with `-o csv`: per-response latencies, so p99.9 too (see hey-csv.ts for what the
 * CSV leaves out). `headers`: extra `-H` values, the same on every request.
 */
export async function runHeyCsv(
  procs: Procs,
  o: LoadOptions,
  url: string,
  rate: number,
  onSpawn?: OnSpawn,
  headers: string[] = [],
): Promise<HeyCsvResult & { asked: number }> {
  const c = heyWorkers(rate, o.heyConcurrency);
  const args = [
    '-z',
    `${o.durationS}s`,
    '-q',
    (rate / c).toFixed(3),
    '-c',
    String(c),
    '-t',
    '10',
    '-o',
    'csv',
  ];
  for (const h of headers) args.push('-H', h);
  args.push(url);
  const r = await procs.capture('hey', 'hey', args, (o.durationS + 60) * 1000, onSpawn);
  if (r.code !== 0) throw new Error(`hey exited ${r.code}: ${r.stderr}${r.stdout.slice(0, 2000)}`);
  return { ...parseHeyCsv(r.stdout, o.durationS), asked: Math.round(rate * o.durationS) };
}
