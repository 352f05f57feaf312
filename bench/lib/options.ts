/** Command-line options of `npm run bench` (bench/gateway.ts). */

import path from 'node:path';
import { parseArgs } from 'node:util';
import { LATENCY_GENERATORS, type LatencyGenerator } from './latency-phase.ts';
import { GATEWAY_MAIN } from './targets.ts';
import { TLS_ROWS, type TlsRowName } from './tls-rows.ts';

export type TargetName = 'direct' | 'nginx' | 'haproxy' | 'caddy' | 'cutover';
export const ALL_TARGETS: TargetName[] = ['direct', 'nginx', 'haproxy', 'caddy', 'cutover'];
export type RowName = 'http' | TlsRowName | 'policy' | 'memory';
export const ALL_ROWS: RowName[] = ['http', ...TLS_ROWS, 'policy', 'memory'];

export interface Options {
  durationS: number;
  warmupS: number;
  workers: number;
  connections: number;
  threads: number;
  /** null: auto (see heyWorkers). */
  heyConcurrency: number | null;
  /** The fixed-rate latency generator (auto: fixed-rate.c when a C compiler builds it, else hey). */
  latencyGenerator: LatencyGenerator;
  /** The latency phase's requests/s (null: half of the cutover peak). */
  fixedRate: number | null;
  targets: TargetName[];
  /** Which rows to measure. */
  rows: RowName[];
  quick: boolean;
  /** Interleaved repetitions of each measurement; the best round counts. */
  rounds: number;
  keep: boolean;
  /** Gateway entry point (default src/gateway/main.ts). */
  gateway: string;
  /** Memory rows: idle client connections (and WebSockets) held open at once. */
  memoryConnections: number;
  /** Memory rows: gateway workers and nginx worker_processes (the gateway's default: one per core). */
  memoryWorkers: number;
}

export const USAGE =
  'usage: node bench/gateway.ts [--duration 10s] [--warmup 2s] [--workers N] [--quick] [--rounds 2]\n' +
  '                             [--connections 64] [--threads 1] [--hey-concurrency auto]\n' +
  '                             [--latency-generator auto|fixed-rate|hey|both] [--fixed-rate N]\n' +
  '                             [--targets direct,nginx,haproxy,caddy,cutover] [--keep]\n' +
  '                             [--rows http,https,handshakes,h2,policy,memory | all | tls]\n' +
  '                             [--memory-connections 10000] [--memory-workers 2] [--gateway src/gateway/main.ts]\n';

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`bad duration ${JSON.stringify(text)} (use e.g. 10s, 500ms, 1m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const seconds = unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : n;
  // wrk only takes whole seconds; 0 disables (used for --warmup 0).
  return seconds === 0 ? 0 : Math.max(1, Math.round(seconds));
}

export function parseOptions(argv: string[], defaultMemoryWorkers: number): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      workers: { type: 'string', default: '1' },
      connections: { type: 'string', default: '64' },
      threads: { type: 'string', default: '1' },
      'hey-concurrency': { type: 'string', default: 'auto' },
      'latency-generator': { type: 'string', default: 'auto' },
      'fixed-rate': { type: 'string' },
      targets: { type: 'string', default: ALL_TARGETS.join(',') },
      rows: { type: 'string', default: 'all' },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      keep: { type: 'boolean', default: false },
      gateway: { type: 'string', default: GATEWAY_MAIN },
      'memory-connections': { type: 'string', default: '10000' },
      'memory-workers': { type: 'string', default: String(defaultMemoryWorkers) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  const durationS = parseDuration(values.duration ?? (quick ? '2s' : '10s'));
  const warmupS = parseDuration(values.warmup ?? (quick ? '1s' : '2s'));
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const targets = values.targets.split(',').map((t) => t.trim()) as TargetName[];
  for (const t of targets) {
    if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t} (known: ${ALL_TARGETS.join(', ')})`);
  }
  if (!targets.includes('direct')) targets.unshift('direct'); // the baseline for added latency
  const latencyGenerator = values['latency-generator'] as LatencyGenerator;
  if (!LATENCY_GENERATORS.includes(latencyGenerator))
    throw new Error(
      `--latency-generator: unknown ${JSON.stringify(latencyGenerator)} (known: ${LATENCY_GENERATORS.join(', ')})`,
    );
  const rows = new Set<RowName>();
  for (const raw of values.rows.split(',').map((x) => x.trim())) {
    if (raw === 'all') for (const r of ALL_ROWS) rows.add(r);
    else if (raw === 'tls') for (const r of TLS_ROWS) rows.add(r);
    else if ((ALL_ROWS as string[]).includes(raw)) rows.add(raw as RowName);
    else
      throw new Error(`--rows: unknown row ${JSON.stringify(raw)} (known: ${ALL_ROWS.join(', ')}, all, tls)`);
  }
  return {
    durationS,
    warmupS,
    workers: int('workers', values.workers),
    connections: int('connections', values.connections),
    threads: int('threads', values.threads),
    heyConcurrency:
      values['hey-concurrency'] === 'auto' ? null : int('hey-concurrency', values['hey-concurrency']),
    latencyGenerator,
    fixedRate: values['fixed-rate'] === undefined ? null : int('fixed-rate', values['fixed-rate']),
    targets: ALL_TARGETS.filter((t) => targets.includes(t)),
    rows: ALL_ROWS.filter((r) => rows.has(r)),
    quick,
    rounds: int('rounds', values.rounds ?? (quick ? '1' : '2')),
    keep: values.keep,
    gateway: path.resolve(values.gateway),
    memoryConnections: int('memory-connections', values['memory-connections']),
    memoryWorkers: int('memory-workers', values['memory-workers']),
  };
}
