/**
 * Top functions by self time in a V8 `.cpuprofile` (from `--cpu-prof`), with their share of all samples,
 * and the same rolled up by where the code lives (gateway source, node:http, undici, GC, ...).
 *
 *   node bench/profile/top.ts PROFILE.cpuprofile [--top 30] [--idle]
 *
 * `(idle)` samples (the event loop waiting) are left out of the shares unless `--idle` is given: the
 * shares are then of the time the worker was busy.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, idle: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node bench/profile/top.ts PROFILE.cpuprofile [--top 30] [--idle]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

/** Self time per node id, in microseconds (each sample is charged the delta that follows it). */
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const src = url.indexOf('/src/');
  if (src !== -1) return url.slice(src + 1);
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  return url.replace(/^file:\/\//, '');
}

function area(frame: CallFrame): string {
  const u = frame.url;
  if (u === '') {
    if (frame.functionName === '(garbage collector)') return 'GC';
    if (frame.functionName === '(idle)') return 'idle';
    if (frame.functionName === '(program)') return 'program (native, unattributed)';
    return `native: ${frame.functionName || '(anonymous)'}`;
  }
  if (u.includes('/src/gateway/')) return 'gateway source';
  if (u.includes('/src/')) return 'other cutover source';
  if (u.includes('node_modules/undici')) return 'undici';
  if (u.startsWith('node:_http') || u.startsWith('node:http')) return 'node:http';
  if (u.startsWith('node:net') || u.startsWith('node:internal/stream_base')) return 'node:net';
  if (u.startsWith('node:internal/streams') || u.startsWith('node:stream')) return 'node streams';
  if (u.startsWith('node:')) return 'node (other)';
  return 'other';
}

const fnTotals = new Map<string, number>();
const areaTotals = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const frame = byId.get(id)!.callFrame;
  const a = area(frame);
  if (a === 'idle' && !values.idle) continue;
  total += us;
  const key = `${frame.functionName || '(anonymous)'}  ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
  fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
  areaTotals.set(a, (areaTotals.get(a) ?? 0) + us);
}

const pct = (us: number): string => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
const out: string[] = [
  `busy ${(total / 1e6).toFixed(2)} s of samples${values.idle ? ' (idle included)' : ''}`,
  '',
];
out.push('by area (self time):');
for (const [a, us] of [...areaTotals].sort((x, y) => y[1] - x[1])) out.push(`  ${pct(us)}  ${a}`);
out.push('', `top ${values.top} functions by self time:`);
for (const [k, us] of [...fnTotals].sort((x, y) => y[1] - x[1]).slice(0, Number(values.top)))
  out.push(`  ${pct(us)}  ${k}`);
process.stdout.write(`${out.join('\n')}\n`);
