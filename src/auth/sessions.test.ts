import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../store/store.ts';
import { cookieValue, SessionStore, sameSecret } from './sessions.ts';
import { TokenStore } from './tokens.ts';

function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-sessions-'));
  const store = new SqliteStore(dir);
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let now = 1_000_000;
  const tokens = new TokenStore(store.db, () => now);
  const sessions = new SessionStore(tokens, { ttlMs: 1000, now: () => now });
  const made = tokens.create('dan', 'deployer', ['web']);
  assert.ok(made);
  const who = tokens.verify(made.token);
  assert.ok(who);
  return { tokens, sessions, who, advance: (ms: number) => (now += ms) };
}

test('a session stands for its token until it idles past its ttl; each use pushes the expiry back', (t) => {
  const { sessions, who, advance } = setup(t);
  const s = sessions.open(who);
  assert.notEqual(s.id, s.csrf);
  assert.deepEqual(sessions.get(s.id)?.principal, { name: 'dan', role: 'deployer', services: ['web'] });
  assert.equal(sessions.get(s.id)?.csrf, s.csrf);
  advance(900);
  assert.ok(sessions.get(s.id), 'used within the ttl');
  advance(900);
  assert.ok(sessions.get(s.id), 'the previous use pushed the expiry back');
  advance(1000);
  assert.equal(sessions.get(s.id), undefined, 'idle for the whole ttl');
  assert.equal(sessions.get('no-such-session'), undefined);
});

test('revoking or replacing the token ends its sessions; sign-out ends one', (t) => {
  const { tokens, sessions, who, advance } = setup(t);
  const a = sessions.open(who);
  const b = sessions.open(who);
  assert.ok(sessions.close(a.id));
  assert.equal(sessions.get(a.id), undefined);
  assert.ok(sessions.get(b.id), 'the other session lives on');
  advance(10);
  tokens.put('dan', 'cut_replacedreplacedreplacedreplacedreplaced0', 'admin', []);
  assert.equal(
    sessions.get(b.id),
    undefined,
    'a token replaced under the same name does not inherit sessions',
  );
  const c = sessions.open({ name: 'dan', role: 'admin', services: [] });
  assert.ok(tokens.revoke('dan'));
  assert.equal(sessions.get(c.id), undefined, 'revoked');
});

test('cookie parsing and secret comparison', () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ['', undefined],
    ['cutover_session=abc', 'abc'],
    ['a=1; cutover_session=x-y_z; b=2', 'x-y_z'],
    ['xcutover_session=nope', undefined],
    ['cutover_session=', ''],
  ];
  for (const [header, want] of cases)
    assert.equal(cookieValue(header, 'cutover_session'), want, String(header));
  assert.ok(sameSecret('abc', 'abc'));
  assert.ok(!sameSecret('abc', 'abd'));
  assert.ok(!sameSecret('abc', 'abcd'));
});
