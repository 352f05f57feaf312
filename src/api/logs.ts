import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';

/** Log files of a service's instances, newest first. */
export function logFiles(
  dataDir: string,
  service: string,
): Array<{ instance: string; file: string; mtime: number }> {
  const dir = path.join(dataDir, 'logs', service);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => {
      const file = path.join(dir, f);
      return { instance: f.slice(0, -4), file, mtime: statSync(file).mtimeMs };
    })
    .sort((a, b) => b.mtime - a.mtime);
}

/** The last `maxLines` lines of a file (reads at most the last 1 MiB). */
async function tail(file: string, maxLines: number): Promise<{ lines: string[]; size: number }> {
  const size = statSync(file).size;
  const start = Math.max(0, size - 1024 * 1024);
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(file, { start, end: Math.max(start, size - 1) }))
    chunks.push(c as Buffer);
  const text = size === 0 ? '' : Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return { lines: lines.slice(-maxLines), size };
}

/**
 * Writes instance logs as text lines prefixed `instance | `; with `follow`, keeps streaming
 * what the files gain until the client goes away.
 */
export async function streamLogs(
  res: ServerResponse,
  files: Array<{ instance: string; file: string }>,
  maxLines: number,
  follow: boolean,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
  const offsets = new Map<string, number>();
  for (const f of files) {
    const { lines, size } = await tail(f.file, maxLines);
    for (const l of lines) res.write(`${f.instance} | ${l}\n`);
    offsets.set(f.file, size);
  }
  if (!follow) {
    res.end();
    return;
  }
  const partial = new Map<string, string>();
  const pump = (f: { instance: string; file: string }) => {
    let size: number;
    try {
      size = statSync(f.file).size;
    } catch {
      return;
    }
    let from = offsets.get(f.file) ?? 0;
    if (size < from) from = 0; // rotated (copytruncate)
    if (size === from) return;
    offsets.set(f.file, size);
    const s = createReadStream(f.file, { start: from, end: size - 1 });
    s.on('data', (c) => {
      const text = (partial.get(f.file) ?? '') + c.toString();
      const lines = text.split('\n');
      partial.set(f.file, lines.pop() ?? '');
      for (const l of lines) res.write(`${f.instance} | ${l}\n`);
    });
  };
  const timer = setInterval(() => files.forEach(pump), 250);
  res.on('close', () => clearInterval(timer));
}
