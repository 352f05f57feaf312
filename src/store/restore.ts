import { chmodSync, copyFileSync, existsSync, linkSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { checkFile, type SnapshotInfo } from './integrity.ts';
import { STATE_FILE } from './open.ts';
import { fsyncPath, SNAPSHOT_FILE, STATE_FILE_MODE, snapshotInfo } from './snapshot.ts';

/** SQLite primary result codes for a database another connection holds. */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/** `cutover state restore` refused; nothing was changed. */
export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

/** What `restoreSnapshot` did. */
export interface RestoreResult {
  /** The state database, now a copy of the snapshot. */
  file: string;
  snapshot: SnapshotInfo;
  /** Where the file it replaced was kept (absent when there was none). */
  kept?: string;
  /** Why the replaced file was damaged (absent when it was intact and --force replaced it). */
  damage?: string;
}

/**
 * True when another connection holds the database (a running controller keeps it open): an
 * exclusive lock is only granted to the sole user of a WAL database.
 */
function stateInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
    return false;
  } catch (err) {
    const code = (err as { errcode?: unknown }).errcode;
    // Any other failure here is the damage itself, which is what restore is for.
    return typeof code === 'number' && [SQLITE_BUSY, SQLITE_LOCKED].includes(code & 0xff);
  } finally {
    db.close();
  }
}

/** `state.db.damaged-2026-01-02T03-04-05-678Z`: sortable, and valid as a file name everywhere. */
function keptName(file: string, damaged: boolean, now: number): string {
  return `${file}.${damaged ? 'damaged' : 'replaced'}-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
}

/**
 * Puts the verified snapshot in place of `<dataDir>/state.db`, keeping the old file (and its WAL)
 * beside it. The caller makes sure no controller runs; an open database is refused here too.
 * An intact database is only replaced with `force`: restoring drops what changed since the
 * snapshot.
 */
export function restoreSnapshot(
  dataDir: string,
  opts: { force?: boolean; now?: number } = {},
): RestoreResult {
  const file = path.join(dataDir, STATE_FILE);
  const snapshot = snapshotInfo(dataDir);
  if (!snapshot) {
    throw new RestoreRefusedError(
      `there is no snapshot to restore (${path.join(dataDir, SNAPSHOT_FILE)}); Cutover takes one at start-up, after every finished rollout and while it runs`,
    );
  }
  const bad = checkFile(snapshot.file);
  if (bad !== undefined) {
    throw new RestoreRefusedError(
      `the snapshot ${snapshot.file} is damaged too (${bad}); nothing was changed`,
    );
  }
  const exists = existsSync(file);
  if (exists && stateInUse(file)) {
    throw new RestoreRefusedError(
      `${file} is open in another process (is cutover up running?); stop it first`,
    );
  }
  const damage = exists ? checkFile(file) : undefined;
  if (exists && damage === undefined && !opts.force) {
    throw new RestoreRefusedError(
      `${file} is intact; restoring would drop what changed since the snapshot was taken (${new Date(snapshot.takenAt).toISOString()}); pass --force to restore anyway`,
    );
  }
  const tmp = `${file}.restore-${process.pid}`;
  copyFileSync(snapshot.file, tmp);
  chmodSync(tmp, STATE_FILE_MODE);
  fsyncPath(tmp);
  let kept: string | undefined;
  if (exists) {
    kept = keptName(file, damage !== undefined, opts.now ?? Date.now());
    // A link keeps the old file without a moment in which state.db is missing.
    try {
      linkSync(file, kept);
    } catch {
      copyFileSync(file, kept);
    }
    // A WAL left beside the restored file would be replayed into it: it goes with the old file.
    if (existsSync(`${file}-wal`)) renameSync(`${file}-wal`, `${kept}-wal`);
    rmSync(`${file}-shm`, { force: true });
  }
  renameSync(tmp, file);
  fsyncPath(dataDir);
  return { file, snapshot, kept, damage };
}
