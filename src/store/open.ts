import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isDamage, quickCheck, StateDamagedError } from './integrity.ts';
import { snapshotInfo } from './snapshot.ts';

/** The state database's file name inside `dataDir`. */
export const STATE_FILE = 'state.db';

/**
 * Opens `<dataDir>/state.db` in WAL mode and verifies it before anything trusts it: after an
 * abrupt kill SQLite recovers from the WAL on open, and a disk fault may have hit any page.
 * Throws StateDamagedError, so `cutover up` stops before it has started or taken over anything.
 */
export function openState(dataDir: string): DatabaseSync {
  const file = path.join(dataDir, STATE_FILE);
  let db: DatabaseSync | undefined;
  let reason: string | undefined;
  try {
    db = new DatabaseSync(file);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    reason = quickCheck(db);
  } catch (err) {
    db?.close();
    if (!isDamage(err)) throw err;
    throw new StateDamagedError(file, (err as Error).message, snapshotInfo(dataDir));
  }
  if (reason !== undefined) {
    db.close();
    throw new StateDamagedError(file, reason, snapshotInfo(dataDir));
  }
  return db;
}
