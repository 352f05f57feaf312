/**
 * The gateway worker's modules as plain JavaScript, stripped of their types once by the master.
 * Node's own type stripping (SWC compiled to WebAssembly) costs every process that loads a .ts file
 * ~38 MB of RSS it never gives back: more than a third of an idle worker. Workers are the processes
 * there are many of, so they run from this cache. The directory is named by a hash of what it holds:
 * a changed source gives a new directory, so a stale copy is never run. Positions are kept (types are
 * blanked, not removed) and each file names its source, so stack traces point into src/.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Under the project's node_modules: a bare import (a package) resolves from there as from src/. */
const CACHE_DIR = path.join('node_modules', '.cache', 'cutover-gateway');

/** Copies of other sources (older checkouts) left this long untouched are removed when a new one is made. */
const STALE_COPY_MS = 7 * 24 * 3600_000;

/** A relative `.ts` specifier of a static import, an export-from or a dynamic import. */
const RELATIVE_TS = /(\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"\n]+)\.ts\2/g;

/**
 * The path of `entry`'s JavaScript copy (`.mjs`, with every module it imports), written under `root`
 * if not there yet. Throws when a module cannot be read or the cache cannot be written.
 */
export function workerScript(entry: string, root: string): string {
  const files = new Map<string, string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    const js = strip(readFileSync(file, 'utf8'), file).replace(RELATIVE_TS, (_m, lead, quote, spec) => {
      queue.push(path.resolve(path.dirname(file), `${spec}.ts`));
      return `${lead}${quote}${spec}.mjs${quote}`;
    });
    files.set(file, js);
  }
  const hash = createHash('sha256').update(process.version);
  for (const [file, js] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`\0${file}\0${js}`);
  const dir = path.join(root, CACHE_DIR, hash.digest('hex').slice(0, 16));
  const target = (base: string, file: string) =>
    path.join(base, path.relative(root, file).replace(/\.ts$/, '.mjs'));
  if (!existsSync(target(dir, entry))) {
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    for (const [file, js] of files) {
      const out = target(tmp, file);
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, js);
    }
    try {
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      // Another master wrote the same directory first: same hash, same content.
      if (!existsSync(target(dir, entry))) throw err;
    }
    pruneStale(path.dirname(dir), dir);
  }
  return target(dir, entry);
}

/** A master whose copy was pruned makes it again before its next fork (`workerEntry`). */
function pruneStale(parent: string, keep: string): void {
  const now = Date.now();
  for (const name of readdirSync(parent)) {
    const dir = path.join(parent, name);
    try {
      if (dir !== keep && now - statSync(dir).mtimeMs > STALE_COPY_MS)
        rmSync(dir, { recursive: true, force: true });
    } catch {
      // gone already, or another master prunes it
    }
  }
}

/**
 * `stripTypeScriptTypes` announces itself as experimental on its first call; that line on the gateway's
 * stderr would read like a problem to an operator. Only that warning is held back.
 */
function strip(source: string, file: string): string {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (!text.includes('stripTypeScriptTypes')) Reflect.apply(emit, process, [warning, ...rest]);
  }) as typeof process.emitWarning;
  try {
    return stripTypeScriptTypes(source, { mode: 'strip', sourceUrl: pathToFileURL(file).href });
  } finally {
    process.emitWarning = emit;
  }
}

let prepared: { generation: number; script: string } | undefined;

/**
 * The script a master forks `generation`'s workers from: `workerScript` made anew for each generation
 * (a reload runs the sources on disk now, as with the .ts), or the .ts itself when the copy cannot be
 * made (a read-only install: `warn` says why) or `CUTOVER_WORKER_TS=1` asks for it (to compare the
 * two). A worker restarted within its generation gets its siblings' copy, made again if pruned since.
 */
export function workerEntry(
  entry: string,
  generation: number,
  warn: (message: string, error: string) => void,
): string {
  const p = prepared;
  if (p !== undefined && p.generation === generation && (p.script === entry || existsSync(p.script)))
    return p.script;
  let script = entry;
  if (process.env.CUTOVER_WORKER_TS !== '1') {
    try {
      script = workerScript(entry, path.resolve(path.dirname(entry), '..', '..'));
    } catch (err) {
      warn('gateway workers run from TypeScript (more memory per worker)', (err as Error).message);
    }
  }
  prepared = { generation, script };
  return script;
}
