/**
 * Top allocation sites in a sampling heap profile (bench/profile/alloc-sampler.ts, or DevTools'
 * `.heapprofile`): bytes by function (self), with their share.
 *
 *   node bench/profile/top-alloc.ts FILE.heapprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface AllocNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocNode[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' } },
});
const root = (JSON.parse(readFileSync(positionals[0], 'utf8')) as { head: AllocNode }).head;
const bySite = new Map<string, number>();
let total = 0;
const walk = (n: AllocNode, parent: string): void => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\/.*?\/(src|node_modules)\//, '$1/');
  const site = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}  <- ${parent}`;
  if (n.selfSize > 0) {
    bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    total += n.selfSize;
  }
  for (const c of n.children) walk(c, `${f.functionName || '(anonymous)'}`);
};
walk(root, '');
const lines = [`${(total / 1e6).toFixed(1)} MB sampled`];
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  lines.push(`${((bytes / total) * 100).toFixed(1).padStart(5)}%  ${site}`);
process.stdout.write(`${lines.join('\n')}\n`);
