/**
 * One gateway build under wrk load, alone, for profiling: the upstream nginx, the gateway (1 worker by
 * default) with CUTOVER_WORKER_NODE_FLAGS as given, a warmup, then `wrk` for the duration while the
 * worker's user and system CPU time are read from /proc. The gateway then drains (SIGTERM), so a
 * `--cpu-prof` / `--heap-prof` worker writes its profile.
 *
 *   node bench/profile/load.ts [--main src/gateway/main.ts] [--duration 10] [--connections 64]
 *        [--flags "--cpu-prof --cpu-prof-dir=/tmp/prof"] [--hold CMD]
 *
 * With CUTOVER_ALLOC_PROBE set and `--import test/helpers/alloc-probe.ts` among the flags, also prints the
 * worker's allocation and GC time per request over the measured run (see test/gateway-alloc.test.ts).
 *
 * `--hold CMD`: runs CMD (through sh, with $WORKER set to the worker's pid) while wrk runs, e.g.
 * `perf record -g -p $WORKER -- sleep 5`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ProbeAnswer, readAllocProbe } from '../../test/helpers/alloc-probe-client.ts';
import { startGateway } from '../lib/gateway-target.ts';
import { runWrk } from '../lib/measure.ts';
import { Procs } from '../lib/procs.ts';
import { type Env, startUpstreamNginx } from '../lib/targets.ts';

const { values } = parseArgs({
  options: {
    main: { type: 'string', default: 'src/gateway/main.ts' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    workers: { type: 'string', default: '1' },
    flags: { type: 'string', default: '' },
    hold: { type: 'string' },
  },
});
const durationS = Number(values.duration);
const load = { durationS, connections: Number(values.connections), threads: 1, heyConcurrency: null };
const procs = new Procs();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'cutover-load-'));
process.on('exit', () => {
  procs.killAllSync();
  rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
const env: Env = { procs, tmp, workers: Number(values.workers) };

const upstream = await startUpstreamNginx(env, env.workers);
process.env.CUTOVER_WORKER_NODE_FLAGS = values.flags;
const gw = await startGateway(env, upstream.port, { main: path.resolve(values.main) });
const master = gw.proc.child.pid!;
const workers = childrenOf(master);

/** Pids whose parent is `pid` (the master's forked workers). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** utime and stime of a process, in seconds. */
function cpuOf(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const hz = 100;
  return { user: Number(fields[11]) / hz, sys: Number(fields[12]) / hz };
}

await runWrk(procs, load, gw.url, 3);
const before = workers.map(cpuOf);
/** The alloc probe's answer (test/helpers/alloc-probe.ts), or null without one. */
function probe(): Promise<ProbeAnswer | null> {
  const socketPath = process.env.CUTOVER_ALLOC_PROBE;
  return socketPath === undefined || socketPath === '' ? Promise.resolve(null) : readAllocProbe(socketPath);
}

const probed = await probe();
const held =
  values.hold === undefined
    ? null
    : new Promise<void>((resolve) => {
        const child = spawn('sh', ['-c', values.hold!], {
          stdio: 'inherit',
          env: { ...process.env, WORKER: String(workers[0]) },
        });
        child.once('exit', () => resolve());
      });
const res = await runWrk(procs, load, gw.url, durationS);
const after = workers.map(cpuOf);
const probedAfter = await probe();
await held;
if (probed !== null && probedAfter !== null) {
  const n = res.requests;
  process.stdout.write(
    `alloc: ${Math.round((probedAfter.allocated - probed.allocated) / n)} bytes/request, ` +
      `${probedAfter.gcs - probed.gcs} GCs, ${(((probedAfter.gcMs - probed.gcMs) / n) * 1000).toFixed(2)} ms GC per 1000 requests ` +
      `(${(((probedAfter.gcMs - probed.gcMs) / 1000 / durationS) * 100).toFixed(1)}% of the run)\n`,
  );
}
for (const [i, pid] of workers.entries()) {
  const user = after[i].user - before[i].user;
  const sys = after[i].sys - before[i].sys;
  process.stdout.write(
    `worker ${pid}: user ${((user / durationS) * 100).toFixed(0)}% sys ${((sys / durationS) * 100).toFixed(0)}% of a core; ` +
      `${Math.round(res.requests / Math.max(0.01, user + sys))} requests per CPU second\n`,
  );
}
process.stdout.write(
  `wrk: ${Math.round(res.rps)} req/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms, errors ${res.errors}\n`,
);
await procs.stop(gw.proc, 15_000);
await procs.stopAll();
