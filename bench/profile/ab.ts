/**
 * A/B of gateway builds against nginx in ONE run, for a shared and noisy machine: absolute req/s move 2x
 * between runs, so what is compared is each build's req/s over nginx's in the same round, with the
 * targets' order rotated every round. Reuses the benchmark's targets (bench/lib), not its report.
 *
 *   node bench/profile/ab.ts --build base=../base/src/gateway/main.ts --build new=src/gateway/main.ts \
 *        [--rounds 5] [--duration 5] [--connections 64] [--workers 1] [--rate 15000] [--profile DIR]
 *
 * A build given as `name=path@N` runs with N gateway workers instead of `--workers` (nginx and the upstream
 * keep `--workers`): `--build w1=src/gateway/main.ts@1 --build w2=src/gateway/main.ts@2` compares worker
 * counts of one build in one run.
 *
 * `--rate R`: also `hey` at R req/s against direct, nginx and each build: p99 added = target p99 - direct p99.
 * `--profile DIR`: the LAST build's workers run with `--cpu-prof --cpu-prof-dir=DIR` (CUTOVER_WORKER_NODE_FLAGS,
 * see src/gateway/worker-flags.ts); the profiles are written when the gateway drains at the end. Set
 * CUTOVER_WORKER_NODE_FLAGS yourself for other flags (it then reaches every build that reads it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startGateway } from '../lib/gateway-target.ts';
import { runHey, runWrk, withCpu } from '../lib/measure.ts';
import { Procs } from '../lib/procs.ts';
import { type Env, type Running, startNginxProxy, startUpstreamNginx } from '../lib/targets.ts';

const { values } = parseArgs({
  options: {
    build: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    workers: { type: 'string', default: '1' },
    rate: { type: 'string' },
    profile: { type: 'string' },
  },
});
const builds = values.build.map((b) => {
  const eq = b.indexOf('=');
  const name = eq === -1 ? b : b.slice(0, eq);
  const spec = eq === -1 ? b : b.slice(eq + 1);
  const at = /@(\d+)$/.exec(spec);
  const main = path.resolve(at === null ? spec : spec.slice(0, at.index));
  return { name, main, workers: at === null ? null : Number(at[1]) };
});
if (builds.length === 0)
  builds.push({ name: 'cutover', main: path.resolve('src/gateway/main.ts'), workers: null });
const rounds = Number(values.rounds);
const durationS = Number(values.duration);
const load = { durationS, connections: Number(values.connections), threads: 1, heyConcurrency: null };

const procs = new Procs();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'cutover-ab-'));
process.on('exit', () => {
  procs.killAllSync();
  rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

const env: Env = { procs, tmp, workers: Number(values.workers) };
const log = (s: string): void => void process.stderr.write(`[ab] ${s}\n`);

const upstream = await startUpstreamNginx(env, env.workers);
const nginx = await startNginxProxy(env, upstream.port);
const targets: Array<{ name: string; running: Running }> = [{ name: 'nginx', running: nginx }];
for (const [i, b] of builds.entries()) {
  const profiling = values.profile !== undefined && i === builds.length - 1;
  const saved = process.env.CUTOVER_WORKER_NODE_FLAGS;
  if (profiling)
    process.env.CUTOVER_WORKER_NODE_FLAGS = `--cpu-prof --cpu-prof-dir=${path.resolve(values.profile!)}`;
  // startGateway keeps its files under <tmp>/cutover: one prefix per build.
  const own: Env = {
    ...env,
    tmp: mkdtempSync(path.join(tmp, `${b.name}-`)),
    workers: b.workers ?? env.workers,
  };
  targets.push({ name: b.name, running: await startGateway(own, upstream.port, { main: b.main }) });
  if (profiling) process.env.CUTOVER_WORKER_NODE_FLAGS = saved;
  log(`${b.name}: ${b.main}, ${own.workers} worker(s)`);
}

// A short warmup per target (JIT, pools, connections) before anything counts.
for (const t of targets) await runWrk(procs, load, t.running.url, 2);

const rps = new Map<string, number[]>(targets.map((t) => [t.name, []]));
const ratios = new Map<string, number[]>(targets.map((t) => [t.name, []]));
/** Requests per second of CPU the target's process group used: less moved by foreign load than req/s. */
const perCore = new Map<string, number[]>(targets.map((t) => [t.name, []]));
const perCoreRatios = new Map<string, number[]>(targets.map((t) => [t.name, []]));
for (let r = 0; r < rounds; r++) {
  const order = targets.map((_t, i) => targets[(i + r) % targets.length]);
  const got = new Map<string, number>();
  const gotPerCore = new Map<string, number>();
  for (const t of order) {
    const res = await withCpu(t.running.proc.child.pid, upstream.proc.child.pid, (onSpawn) =>
      runWrk(procs, load, t.running.url, durationS, onSpawn),
    );
    got.set(t.name, res.rps);
    gotPerCore.set(t.name, res.rps / Math.max(0.01, res.cpu.target / 100));
    perCore.get(t.name)!.push(gotPerCore.get(t.name)!);
    rps.get(t.name)!.push(res.rps);
    log(
      `round ${r + 1} ${t.name}: ${Math.round(res.rps)} req/s, p99 ${res.p99Ms} ms, cpu ${res.cpu.target}%, errors ${res.errors}`,
    );
  }
  for (const t of targets) {
    ratios.get(t.name)!.push(got.get(t.name)! / got.get('nginx')!);
    perCoreRatios.get(t.name)!.push(gotPerCore.get(t.name)! / gotPerCore.get('nginx')!);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const lines = ['target        median req/s   x nginx   req/cpu-s   x nginx   per-round req/s x nginx'];
for (const t of targets) {
  const rs = ratios.get(t.name)!;
  const pc = perCoreRatios.get(t.name)!;
  lines.push(
    `${t.name.padEnd(14)}${String(Math.round(median(rps.get(t.name)!))).padStart(11)}   ${median(rs).toFixed(3).padStart(7)}` +
      `   ${String(Math.round(median(perCore.get(t.name)!))).padStart(9)}   ${median(pc).toFixed(3).padStart(7)}   ${rs.map((x) => x.toFixed(3)).join(' ')}`,
  );
}

if (values.rate !== undefined) {
  const rate = Number(values.rate);
  const all = [{ name: 'direct', running: upstream }, ...targets];
  const p99 = new Map<string, number[]>(all.map((t) => [t.name, []]));
  for (let r = 0; r < Math.min(rounds, 3); r++) {
    for (const t of all) {
      const h = await runHey(procs, load, t.running.url, rate);
      p99.get(t.name)!.push(h.p99Ms ?? Number.NaN);
      log(
        `fixed ${rate}/s round ${r + 1} ${t.name}: p99 ${h.p99Ms} ms, ${Math.round(h.rps)} req/s, errors ${h.errors}`,
      );
    }
  }
  const direct = Math.min(...p99.get('direct')!);
  lines.push(
    '',
    `at ${rate} req/s (hey), best p99 of rounds; added = target - direct (${direct.toFixed(2)} ms)`,
  );
  for (const t of targets) {
    const best = Math.min(...p99.get(t.name)!);
    lines.push(`${t.name.padEnd(14)} p99 ${best.toFixed(2)} ms, added ${(best - direct).toFixed(2)} ms`);
  }
}

// SIGTERM and a long grace: a draining worker writes its --cpu-prof on exit.
for (const t of targets) await procs.stop(t.running.proc, 15_000);
await procs.stopAll();
process.stdout.write(`${lines.join('\n')}\n`);
