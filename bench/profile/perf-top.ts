/**
 * Reads `perf script` output of a gateway worker run with `--perf-basic-prof-only-functions` (so JIT
 * frames have names) and charges every sample to the first JavaScript frame on its stack: V8 builtins,
 * runtime calls and the kernel work a JS function caused are counted against it ("K " marks samples
 * in the kernel). Unlike `--cpu-prof`, perf samples on CPU time, so time in a syscall is not inflated.
 *
 *   perf record -F 1999 -g -p WORKER -o perf.data -- sleep 5   (bench/profile/load.ts --hold does this)
 *   perf script -i perf.data > perf.txt
 *   node bench/profile/perf-top.ts perf.txt [--top 40] [--callers PATTERN]
 *
 * `--callers PATTERN`: the share of samples with a frame matching PATTERN on the stack, and the two JS
 * frames above it that got there most often (e.g. `DefineKeyedOwnPropertyInLiteral`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' }, callers: { type: 'string' } },
});
const text = readFileSync(positionals[0], 'utf8');

/** Each sample's frames, innermost first, without addresses, offsets and DSOs; kernel samples start with 'K'. */
function samples(): string[][] {
  const out: string[][] = [];
  for (const block of text.split('\n\n')) {
    const lines = block
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (lines.length === 0) continue;
    const frames = lines.map((l) =>
      l
        .replace(/^[0-9a-f]+ /, '')
        .replace(/ \(.*\)$/, '')
        .replace(/\+0x[0-9a-f]+$/, ''),
    );
    out.push(lines[0].includes('[kernel.kallsyms]') ? ['K', ...frames] : frames);
  }
  return out;
}

const all = samples();
const kernelSample = (frames: string[]): boolean => frames[0] === 'K';
const pct = (n: number): string => `${((n / all.length) * 100).toFixed(1).padStart(5)}%`;
const counts = new Map<string, number>();
const add = (k: string): void => void counts.set(k, (counts.get(k) ?? 0) + 1);
const lines: string[] = [`${all.length} samples`];
if (values.callers === undefined) {
  let kernel = 0;
  for (const frames of all) {
    const inKernel = kernelSample(frames);
    if (inKernel) kernel++;
    const js = frames.find((f) => f.startsWith('JS:'));
    add(`${inKernel ? 'K ' : ''}${js ?? frames[inKernel ? 1 : 0]}`);
  }
  lines.push(`${pct(kernel)} in the kernel`, '');
} else {
  let hits = 0;
  for (const frames of all) {
    const i = frames.findIndex((f) => f.includes(values.callers!));
    if (i === -1) continue;
    hits++;
    add(
      frames
        .slice(i + 1)
        .filter((f) => f.startsWith('JS:'))
        .slice(0, 2)
        .join(' <- '),
    );
  }
  lines.push(`${pct(hits)} of samples have ${values.callers} on the stack; most often under:`);
}
for (const [k, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  lines.push(`${pct(n)}  ${k.slice(0, 200)}`);
process.stdout.write(`${lines.join('\n')}\n`);
