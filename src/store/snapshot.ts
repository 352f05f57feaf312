import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { Logger } from '../log/logger.ts';
import { checkFile, type SnapshotInfo } from './integrity.ts';

/** The last verified copy of the state database, inside `dataDir`. */
export const SNAPSHOT_FILE = 'state.snapshot.db';
/** How often a running controller refreshes the snapshot besides after each finished rollout. */
export const SNAPSHOT_INTERVAL_MS = 10 * 60_000;
const TMP_INFIX = '.tmp-';
/** The state holds token hashes and the audit trail: only the owner reads a copy. */
export const STATE_FILE_MODE = 0o600;

/** The snapshot in `dataDir`, if there is one. */
export function snapshotInfo(dataDir: string): SnapshotInfo | undefined {
  const file = path.join(dataDir, SNAPSHOT_FILE);
  try {
    return { file, takenAt: Math.floor(statSync(file).mtimeMs) };
  } catch {
    return undefined;
  }
}

/** Flushes a file (or, on POSIX, a directory entry) to disk; best effort where unsupported. */
export function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(p, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a directory for fsync; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes a consistent copy of `db` (SQLite's `VACUUM INTO`, one read transaction, so concurrent
 * writers are not blocked) to a temp file, verifies it and renames it over the previous snapshot.
 * A copy that fails its check never replaces a good one.
 */
export function takeSnapshot(db: DatabaseSync, dataDir: string): SnapshotInfo & { bytes: number } {
  const file = path.join(dataDir, SNAPSHOT_FILE);
  const tmp = `${file}${TMP_INFIX}${process.pid}`;
  rmSync(tmp, { force: true });
  // VACUUM INTO accepts an existing empty file: creating it first gives it its mode from the start.
  closeSync(openSync(tmp, 'wx', STATE_FILE_MODE));
  try {
    db.prepare('VACUUM INTO ?').run(tmp);
    // VACUUM INTO does not sync its output; the rename must not publish pages not yet on disk.
    fsyncPath(tmp);
    const reason = checkFile(tmp);
    if (reason !== undefined) throw new Error(`the new snapshot failed its integrity check: ${reason}`);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(dataDir);
  const st = statSync(file);
  return { file, takenAt: Math.floor(st.mtimeMs), bytes: st.size };
}

/** Keeps the snapshot fresh for a running controller: on demand and on a timer. */
export class Snapshots {
  private readonly db: DatabaseSync;
  private readonly dataDir: string;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;

  constructor(opts: { db: DatabaseSync; dataDir: string; log: Logger; intervalMs?: number }) {
    this.db = opts.db;
    this.dataDir = opts.dataDir;
    this.log = opts.log;
    this.intervalMs = opts.intervalMs ?? SNAPSHOT_INTERVAL_MS;
  }

  /** Takes one now (the database just passed its check) and then every interval. */
  start(): void {
    // One controller per dataDir: a temp copy here was left by one that died mid-snapshot.
    for (const f of readdirSync(this.dataDir)) {
      if (f.startsWith(`${SNAPSHOT_FILE}${TMP_INFIX}`)) rmSync(path.join(this.dataDir, f), { force: true });
    }
    this.take('start-up');
    this.timer = setInterval(() => this.take('timer'), this.intervalMs);
    this.timer.unref();
  }

  /** Never throws: a failed snapshot keeps the previous one and is logged. */
  take(reason: string): void {
    try {
      const s = takeSnapshot(this.db, this.dataDir);
      this.log.info('state snapshot taken', { reason, file: s.file, bytes: s.bytes });
    } catch (err) {
      this.log.warn('state snapshot failed; the previous one is kept', { reason, err });
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
