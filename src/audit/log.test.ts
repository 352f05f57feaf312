import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FailureLimiter } from '../auth/ratelimit.ts';
import { admin, authorize, operate, type Principal, READ } from '../auth/roles.ts';
import { TokenStore } from '../auth/tokens.ts';
import { Store } from '../store/store.ts';
import { AuditLog, canonicalJson, type NewAuditEntry } from './log.ts';
import { auditParams, redact } from './params.ts';

function withStore(t: { after: (fn: () => void) => void }): Store {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-audit-'));
  const store = new Store(dir);
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const entry = (action: string, service: string | null = 'web'): NewAuditEntry => ({
  actor: 'ci',
  role: 'deployer',
  action,
  service,
  revision: null,
  params: '{}',
  source: '127.0.0.1',
  status: 200,
  code: null,
});

test('canonical JSON sorts keys at every level', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }),
    '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}',
  );
});

test('redaction of secret keys and KEY=VALUE settings', () => {
  assert.deepEqual(
    redact({
      version: 'v2',
      set: ['run.env.API_KEY=x', 'run.env.DB_PASSWORD=y', 'run.env.MODE=z'],
      auth: { a: 1 },
    }),
    {
      version: 'v2',
      set: ['run.env.API_KEY=[redacted]', 'run.env.DB_PASSWORD=[redacted]', 'run.env.MODE=z'],
      auth: '[redacted]',
    },
  );
  assert.equal(auditParams(Buffer.from('not json'), false), '{"_unparsed":"8 bytes, not JSON"}');
  assert.equal(auditParams(Buffer.alloc(0), false), '{}');
});

test('the chain verifies, and edits, middle and tail deletions are found', (t) => {
  const store = withStore(t);
  const log = new AuditLog(store.db);
  assert.deepEqual(log.verify(), { ok: true, entries: 0 });
  for (const a of ['deploy', 'promote', 'abort', 'pause']) log.append(entry(a));
  log.append(entry('token.create', null));
  assert.deepEqual(log.verify(), { ok: true, entries: 5 });
  assert.deepEqual(
    log.list({ service: 'web', limit: 2 }).map((e) => e.action),
    ['abort', 'pause'],
  );

  store.db.prepare('UPDATE audit SET status = 500 WHERE seq = 3').run();
  assert.deepEqual(log.verify().broken?.seq, 3);
  assert.equal(log.verify().broken?.reason, 'edited');
  store.db.prepare('UPDATE audit SET status = 200 WHERE seq = 3').run();
  assert.equal(log.verify().ok, true);

  store.db.prepare('DELETE FROM audit WHERE seq IN (2, 3)').run();
  assert.deepEqual(log.verify().broken, {
    seq: 2,
    reason: 'deleted',
    message: 'entries 2..3 are missing (deleted)',
  });
});

test('deleting the newest entry is found through the head', (t) => {
  const store = withStore(t);
  const log = new AuditLog(store.db);
  log.append(entry('deploy'));
  log.append(entry('abort'));
  store.db.prepare('DELETE FROM audit WHERE seq = 2').run();
  assert.deepEqual(log.verify(), {
    ok: false,
    entries: 1,
    broken: { seq: 2, reason: 'deleted', message: 'entry 2 is missing (deleted)' },
  });
});

test('tokens: hashed, verified, revoked', (t) => {
  const store = withStore(t);
  const tokens = new TokenStore(store.db);
  const made = tokens.create('ci', 'deployer', ['web']);
  assert.ok(made);
  assert.equal(tokens.create('ci', 'viewer', []), undefined);
  assert.deepEqual(tokens.verify(made.token), { name: 'ci', role: 'deployer', services: ['web'] });
  const last = made.token.slice(-1) === 'A' ? 'B' : 'A';
  assert.equal(tokens.verify(`${made.token.slice(0, -1)}${last}`), undefined);
  assert.equal(tokens.verify('garbage'), undefined);
  const row = store.db.prepare('SELECT hash FROM tokens').get() as { hash: string };
  assert.ok(!row.hash.includes(made.token));
  assert.ok(tokens.revoke('ci'));
  assert.equal(tokens.verify(made.token), undefined);
});

test('roles', () => {
  const viewer: Principal = { name: 'v', role: 'viewer', services: [] };
  const dep: Principal = { name: 'd', role: 'deployer', services: ['api'] };
  const anyDep: Principal = { name: 'a', role: 'deployer', services: [] };
  const adm: Principal = { name: 'admin', role: 'admin', services: [] };
  assert.equal(authorize(viewer, READ, 'web').ok, true);
  assert.equal(authorize(viewer, operate('deploy'), 'web').ok, false);
  assert.equal(authorize(dep, operate('deploy'), 'web').ok, false);
  assert.equal(authorize(dep, operate('deploy'), 'api').ok, true);
  assert.equal(authorize(dep, operate('deploy'), undefined).ok, false);
  assert.equal(authorize(anyDep, operate('deploy'), 'web').ok, true);
  assert.equal(authorize(anyDep, admin(), undefined).ok, false);
  assert.equal(authorize(adm, admin(), undefined).ok, true);
});

test('failure limiter: 10 per window per address, then a Retry-After until the oldest expires', () => {
  const l = new FailureLimiter({ limit: 3, windowMs: 60_000 });
  for (let i = 0; i < 3; i++) {
    assert.equal(l.retryAfter('a', 1000 * i), 0);
    l.fail('a', 1000 * i);
  }
  assert.equal(l.retryAfter('a', 3000), 57);
  assert.equal(l.retryAfter('b', 3000), 0);
  assert.equal(l.retryAfter('a', 60_001), 0);
  assert.equal(l.shouldNote('a', 3000), true);
  assert.equal(l.shouldNote('a', 4000), false);
});
