import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { initialServiceState } from '../core/service.ts';
import { SqliteStore } from './store.ts';

test('service state and events survive reopening the database', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = new SqliteStore(dir);
  const s = initialServiceState('web', 'v1', { command: 'x', cwd: '/', env: {} }, 1);
  a.commit([s], [{ service: 'web', type: 'RolloutStarted', revision: 1, message: 'go' }], 5);
  a.putInstance({ id: 'web-1-a', service: 'web', revision: 1, pid: 42, port: 3000, createdAt: 1 });
  a.close();
  const b = new SqliteStore(dir);
  t.after(() => b.close());
  assert.deepEqual(b.loadServices().get('web'), s);
  assert.deepEqual(b.events({ service: 'web' }), [
    { id: 1, time: 5, service: 'web', type: 'RolloutStarted', revision: 1, message: 'go' },
  ]);
  assert.equal(b.instances()[0].pid, 42);
  b.deleteInstance('web-1-a');
  assert.deepEqual(b.instances(), []);
  const v = b.db.prepare("SELECT value FROM meta WHERE key='schema_version'").get() as { value: string };
  assert.equal(v.value, '2'); // 1: services, events, instances; 2: tokens, audit
});

test('a failed transaction leaves nothing behind', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const st = new SqliteStore(dir);
  t.after(() => st.close());
  assert.throws(() =>
    st.tx(() => {
      st.putInstance({ id: 'x', service: 'web', revision: 1, port: 1, createdAt: 1 });
      throw new Error('boom');
    }),
  );
  assert.deepEqual(st.instances(), []);
});
