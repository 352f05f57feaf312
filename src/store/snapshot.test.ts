import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { damageTable } from '../../test/helpers/damage.ts';
import { initialServiceState } from '../core/service.ts';
import { createLogger } from '../log/logger.ts';
import { StateDamagedError } from './integrity.ts';
import { RestoreRefusedError, restoreSnapshot } from './restore.ts';
import { SNAPSHOT_FILE, Snapshots, takeSnapshot } from './snapshot.ts';
import { SqliteStore } from './store.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-snapshot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function seed(dir: string): SqliteStore {
  const st = new SqliteStore(dir);
  const s = initialServiceState('web', 'v1', { command: 'x', cwd: '/', env: {} }, 1);
  st.commit([s], [{ service: 'web', type: 'RolloutStarted', revision: 1, message: 'go' }], 5);
  return st;
}

test('a damaged page makes opening fail with one line that names the snapshot to restore', (t) => {
  const dir = tempDir(t);
  const st = seed(dir);
  const snap = takeSnapshot(st.db, dir);
  st.close();
  assert.equal(statSync(snap.file).mode & 0o777, 0o600);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('tmp')),
    [],
  );
  damageTable(path.join(dir, 'state.db'), 'services');
  assert.throws(
    () => new SqliteStore(dir),
    (err: unknown) => {
      assert.ok(err instanceof StateDamagedError);
      assert.doesNotMatch(err.message, /\n/);
      assert.match(
        err.message,
        /^state database .*state\.db is damaged \(.+\); restore the last snapshot with 'cutover state restore' \(taken \d{4}-.*Z\)/,
      );
      return true;
    },
  );
});

test('without a snapshot the message says to move the file away', (t) => {
  const dir = tempDir(t);
  seed(dir).close();
  damageTable(path.join(dir, 'state.db'), 'events');
  assert.throws(
    () => new SqliteStore(dir),
    /is damaged .*there is no snapshot to restore; move the file away/,
  );
  assert.throws(() => restoreSnapshot(dir), RestoreRefusedError);
});

test('restore puts the snapshot in place and keeps the damaged file beside it', (t) => {
  const dir = tempDir(t);
  const st = seed(dir);
  takeSnapshot(st.db, dir);
  st.close();
  damageTable(path.join(dir, 'state.db'), 'services');
  const r = restoreSnapshot(dir, { now: Date.UTC(2026, 0, 2, 3, 4, 5) });
  assert.equal(r.kept, path.join(dir, 'state.db.damaged-2026-01-02T03-04-05-000Z'));
  assert.ok(r.damage);
  assert.ok(existsSync(r.kept));
  assert.ok(existsSync(path.join(dir, SNAPSHOT_FILE)), 'the snapshot stays for another restore');
  const back = new SqliteStore(dir);
  t.after(() => back.close());
  assert.equal(back.loadServices().get('web')?.name, 'web');
  assert.equal(back.events({ service: 'web' }).length, 1);
});

test('restore refuses an intact database without --force, and one another connection has open', (t) => {
  const dir = tempDir(t);
  const st = seed(dir);
  takeSnapshot(st.db, dir);
  assert.throws(() => restoreSnapshot(dir, { force: true }), /open in another process/);
  st.close();
  assert.throws(() => restoreSnapshot(dir), /is intact; .*--force/);
  const r = restoreSnapshot(dir, { force: true });
  assert.match(r.kept ?? '', /state\.db\.replaced-/);
  assert.equal(r.damage, undefined);
});

test('a failed snapshot keeps the previous one and leaves no temp file', (t) => {
  const dir = tempDir(t);
  const st = seed(dir);
  t.after(() => st.close());
  const first = takeSnapshot(st.db, dir);
  const broken = new DatabaseSync(':memory:');
  broken.close();
  assert.throws(() => takeSnapshot(broken, dir));
  assert.equal(Math.floor(statSync(first.file).mtimeMs), first.takenAt);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('tmp')),
    [],
  );
});

test('the running controller refreshes the snapshot at start-up and on every interval', (t) => {
  const dir = tempDir(t);
  const st = seed(dir);
  t.after(() => st.close());
  t.mock.timers.enable({ apis: ['setInterval'] });
  const lines: Array<{ msg: string; reason?: string }> = [];
  const log = createLogger({ level: 'info', write: (l) => lines.push(JSON.parse(l)) });
  const snapshots = new Snapshots({ db: st.db, dataDir: dir, log, intervalMs: 60_000 });
  snapshots.start();
  t.after(() => snapshots.stop());
  assert.deepEqual(
    lines.map((l) => [l.msg, l.reason]),
    [['state snapshot taken', 'start-up']],
  );
  st.commit([], [{ service: 'web', type: 'RolloutSucceeded', revision: 1, message: 'done' }], 6);
  t.mock.timers.tick(60_000);
  assert.deepEqual(
    lines.map((l) => l.reason),
    ['start-up', 'timer'],
  );
  const copy = new DatabaseSync(path.join(dir, SNAPSHOT_FILE), { readOnly: true });
  t.after(() => copy.close());
  assert.deepEqual(
    copy
      .prepare('SELECT type FROM events ORDER BY id')
      .all()
      .map((r) => r.type),
    ['RolloutStarted', 'RolloutSucceeded'],
  );
});
