import { DatabaseSync } from 'node:sqlite';

/** SQLite primary result codes that mean the file's content is damaged, not that it is busy. */
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;
/** quick_check lists up to 100 problems; the first few say enough for one line. */
const MAX_REASONS = 3;

/** True for an error SQLite raised because the file is not a sound database. */
export function isDamage(err: unknown): boolean {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  if (typeof code !== 'number') return false;
  const primary = code & 0xff;
  return primary === SQLITE_CORRUPT || primary === SQLITE_NOTADB;
}

/**
 * `PRAGMA quick_check` as one line: undefined when the database is sound, else SQLite's reason.
 * A damaged page can make the pragma itself fail instead of listing problems; both are damage.
 */
export function quickCheck(db: DatabaseSync): string | undefined {
  let rows: Array<Record<string, unknown>>;
  try {
    rows = db.prepare('PRAGMA quick_check').all() as Array<Record<string, unknown>>;
  } catch (err) {
    if (isDamage(err)) return (err as Error).message;
    throw err;
  }
  const lines = rows
    .flatMap((r) => String(Object.values(r)[0]).split('\n'))
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== '*** in database main ***');
  if (lines.length === 1 && lines[0] === 'ok') return undefined;
  const more = lines.length > MAX_REASONS ? ` (+${lines.length - MAX_REASONS} more)` : '';
  return `${lines.slice(0, MAX_REASONS).join('; ')}${more}`;
}

/** Checks a database file without changing its journal mode; undefined when it is sound. */
export function checkFile(file: string): string | undefined {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
  } catch (err) {
    if (isDamage(err)) return (err as Error).message;
    throw err;
  }
  try {
    return quickCheck(db);
  } finally {
    db.close();
  }
}

/** A verified copy of the state database, as `cutover state restore` would use it. */
export interface SnapshotInfo {
  file: string;
  /** When it was taken (ms since the epoch). */
  takenAt: number;
}

/** The state database cannot be trusted; the message says what to do, in one line. */
export class StateDamagedError extends Error {
  constructor(file: string, reason: string, snapshot: SnapshotInfo | undefined) {
    const remedy = snapshot
      ? `restore the last snapshot with 'cutover state restore' (taken ${new Date(snapshot.takenAt).toISOString()}) or move the file away to start empty`
      : 'there is no snapshot to restore; move the file away to start empty';
    super(`state database ${file} is damaged (${reason}); ${remedy}`);
    this.name = 'StateDamagedError';
  }
}
