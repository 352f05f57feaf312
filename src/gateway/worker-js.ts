/**
 * A gateway process (a worker, and the master: master-launch.ts) as one plain JavaScript file, bundled
 * from the sources with esbuild, so it does not pay for what running the sources costs:
 * - Node's own type stripping (SWC compiled to WebAssembly) costs every process that loads a .ts file
 *   ~38 MB of RSS it never gives back;
 * - every ES module costs a fresh process ~70 KB (its record, namespace, compiled wrapper), so the
 *   worker's 71 modules as separate files cost ~5 MB where one file costs a few hundred KB.
 * The bundle is not minified: each module's code stays as written under a `// src/...ts` line, so a
 * stack trace names the functions of the sources and a line in the bundle is easy to read back. The
 * source map beside it maps traces to src/ when the worker runs with `--enable-source-maps` (off by
 * default: it holds the map in every worker). The directory is named by a hash of the bundle: a changed
 * source gives a new directory, so a stale copy is never run.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Under the project's node_modules: a bare import (a package) resolves from there as from src/. */
const CACHE_DIR = path.join('node_modules', '.cache', 'cutover-gateway');

/** A build takes ~0.1 s; this only bounds a hung one. */
const BUILD_TIMEOUT_MS = 60_000;

/** Copies of other sources (older checkouts) left this long untouched are removed when a new one is made. */
const STALE_COPY_MS = 7 * 24 * 3600_000;

/**
 * The esbuild command: its native binary, or the package's JS launcher when the install left that in
 * its place. Run as a child that exits when done, so the master holds none of esbuild (its JS API keeps
 * a service process and a thread alive: +19 MB in the master and a 25 MB process beside it, measured).
 */
function esbuildCommand(): { file: string; args: string[] } {
  const bin = createRequire(import.meta.url).resolve('esbuild/bin/esbuild');
  const magic = Buffer.alloc(2);
  const fd = openSync(bin, 'r');
  try {
    readSync(fd, magic, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  return magic.toString('latin1') === '#!'
    ? { file: process.execPath, args: [bin] }
    : { file: bin, args: [] };
}

/**
 * The path of `entry`'s bundle (with every module it imports from the project; packages and builtins
 * stay imports), written under `root` if not there yet. Throws when a module cannot be read or
 * compiled, or the cache cannot be written.
 */
export function bundleScript(entry: string, root: string): string {
  const cache = path.join(root, CACHE_DIR);
  // worker.ts -> worker.mjs: what `ps` shows names the process.
  const bundle = path.basename(entry).replace(/\.ts$/, '') + '.mjs';
  mkdirSync(cache, { recursive: true });
  // Built in a directory beside the final one (same depth, so the map's relative paths hold there).
  const tmp = mkdtempSync(path.join(cache, `build-${process.pid}-`));
  try {
    const cmd = esbuildCommand();
    const run = spawnSync(
      cmd.file,
      [
        ...cmd.args,
        path.relative(root, entry),
        '--bundle',
        '--format=esm',
        '--platform=node',
        `--target=node${process.versions.node.split('.')[0]}`,
        '--packages=external',
        '--sourcemap=linked',
        '--log-level=error',
        `--outfile=${path.join(tmp, bundle)}`,
      ],
      // From the project root, so each module's comment names it as src/...
      { cwd: root, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS },
    );
    if (run.error !== undefined) throw run.error;
    if (run.status !== 0)
      throw new Error(`esbuild failed (${run.status ?? run.signal}): ${run.stderr.trim()}`);
    const names = readdirSync(tmp).sort();
    const hash = createHash('sha256').update(process.version);
    for (const name of names) hash.update(`\0${name}\0`).update(readFileSync(path.join(tmp, name)));
    const dir = path.join(cache, hash.digest('hex').slice(0, 16));
    const script = path.join(dir, bundle);
    if (!existsSync(script)) {
      try {
        renameSync(tmp, dir);
      } catch (err) {
        // Another master wrote the same directory first: same hash, same content.
        if (!existsSync(script)) throw err;
      }
      pruneStale(cache, dir);
    }
    return script;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
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

let prepared: { generation: number; script: string } | undefined;

/**
 * The script a master forks `generation`'s workers from: `bundleScript` made anew for each generation
 * (a reload runs the sources on disk now, as with the .ts), or the .ts itself when the bundle cannot be
 * made (a read-only install, esbuild missing: `warn` says why) or `CUTOVER_WORKER_TS=1` asks for it (to
 * compare the two). A worker restarted within its generation gets its siblings' bundle, made again if
 * pruned since.
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
      script = bundleScript(entry, path.resolve(path.dirname(entry), '..', '..'));
    } catch (err) {
      warn('gateway workers run from TypeScript (more memory per worker)', (err as Error).message);
    }
  }
  prepared = { generation, script };
  return script;
}
