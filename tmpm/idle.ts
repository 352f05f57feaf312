import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { settingsIn } from '../test/helpers/gateway-process.ts';
const main = process.argv[2];
const rounds = Number(process.argv[3] ?? 3);
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}
function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/status`, 'utf8');
      if (new RegExp(`^PPid:\\s+${pid}$`, 'm').test(s)) out.push(Number(d));
    } catch {}
  }
  return out;
}
for (let r = 0; r < rounds; r++) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'idle-'));
  const file = path.join(dir, 's.json');
  writeFileSync(file, JSON.stringify(settingsIn(dir, {})));
  const child = spawn(process.execPath, [main, '--settings', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res) => child.stdout!.once('data', () => res()));
  await new Promise((res) => setTimeout(res, 3000));
  const ws = children(child.pid!);
  console.log(JSON.stringify({ main, master: rss(child.pid!).toFixed(1), workers: ws.map((w) => rss(w).toFixed(1)) }));
  child.kill('SIGTERM');
  await new Promise((res) => child.once('exit', res));
}
