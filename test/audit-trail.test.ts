import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { AuditEntry } from '../src/audit/log.ts';
import { Cluster } from './helpers/cluster.ts';

type Entry = Omit<AuditEntry, 'time' | 'prevHash' | 'hash'>;

describe('audit trail', { timeout: 120_000 }, () => {
  const c = new Cluster();
  let viewer = '';
  let deployer = '';

  const entries = async (q = ''): Promise<Entry[]> => {
    const r = await c.api<{ entries: Entry[] }>('GET', `/v1/audit${q}`);
    assert.equal(r.status, 200);
    return r.body.entries;
  };

  before(async () => {
    await c.up({ replicas: 1 });
    const v = await c.cli(['token', 'create', '--name', 'ops-viewer', '--role', 'viewer']);
    assert.equal(v.code, 0, v.stderr);
    viewer = v.stdout.trim();
    const d = await c.cli(['token', 'create', '--name', 'ci', '--role', 'deployer', '--service', 'web']);
    assert.equal(d.code, 0, d.stderr);
    deployer = d.stdout.trim();
  });
  after(() => c.destroy());

  test('allowed and refused mutating requests are recorded with actor, outcome and redacted parameters', async () => {
    const before = (await entries()).length;
    const ok = await c.api<{ revision: number }>(
      'POST',
      '/v1/services/web/deploy',
      { version: 'v2', set: ['run.env.DB_PASSWORD=hunter2', 'run.env.MODE=fast'] },
      deployer,
    );
    assert.equal(ok.status, 202);
    const denied = await c.api('POST', '/v1/services/web/abort', {}, viewer);
    assert.equal(denied.status, 403);
    const anon = await c.api('PUT', '/v1/services/web/weight', { weight: 5, apiToken: 'cut_leak' }, null);
    assert.equal(anon.status, 401);
    // Reads are not audited.
    assert.equal((await c.api('GET', '/v1/services/web', undefined, viewer)).status, 200);

    const list = (await entries()).slice(before);
    assert.equal(list.length, 3, JSON.stringify(list, null, 2));
    const [dep, abort, weight] = list;
    assert.equal(dep.actor, 'ci');
    assert.equal(dep.role, 'deployer');
    assert.equal(dep.action, 'deploy');
    assert.equal(dep.service, 'web');
    assert.equal(dep.revision, ok.body.revision);
    assert.equal(dep.status, 202);
    assert.equal(dep.code, null);
    assert.equal(dep.source, '127.0.0.1');
    assert.deepEqual(JSON.parse(dep.params), {
      version: 'v2',
      set: ['run.env.DB_PASSWORD=[redacted]', 'run.env.MODE=fast'],
    });
    assert.ok(!JSON.stringify(list).includes('hunter2'));
    assert.deepEqual(
      [abort.actor, abort.role, abort.action, abort.service, abort.status, abort.code],
      ['ops-viewer', 'viewer', 'abort', 'web', 403, 'forbidden'],
    );
    assert.deepEqual(
      [weight.actor, weight.role, weight.action, weight.status, weight.code],
      ['anonymous', null, 'weight', 401, 'unauthenticated'],
    );
    assert.deepEqual(JSON.parse(weight.params), { weight: 5, apiToken: '[redacted]' });

    // Token administration is audited too, without the secret.
    const made = await c.api<{ token: string }>('POST', '/v1/tokens', { name: 'tmp', role: 'viewer' });
    assert.equal(made.status, 201);
    assert.equal((await c.api('DELETE', '/v1/tokens/tmp')).status, 200);
    const tail = (await entries('?limit=2')).map((e) => [e.actor, e.action, e.status, e.params]);
    assert.deepEqual(tail, [
      ['admin', 'token.create', 201, '{"name":"tmp","role":"viewer"}'],
      ['admin', 'token.revoke', 200, '{"token":"tmp"}'],
    ]);
    assert.ok(!JSON.stringify(await entries()).includes(made.body.token));
  });

  test('cutover audit lists entries (text, --json, --service, --limit)', async () => {
    const text = await c.cli(['audit']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^SEQ\s+TIME\s+ACTOR\s+ROLE\s+ACTION\s+TARGET\s+SOURCE\s+OUTCOME/);
    assert.match(text.stdout, /ci\s+deployer\s+deploy\s+web@2\s+127\.0\.0\.1\s+202/);
    assert.match(text.stdout, /anonymous\s+-\s+weight\s+web\s+127\.0\.0\.1\s+401 unauthenticated/);
    const json = await c.cli(['audit', '--json', '--service', 'web', '--limit', '2']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { entries: Entry[] };
    assert.equal(parsed.entries.length, 2);
    assert.ok(parsed.entries.every((e) => e.service === 'web'));
    const asViewer = await c.cli(['audit', '--token', viewer]);
    assert.equal(asViewer.code, 1);
    assert.match(asViewer.stderr, /needs admin/);
  });

  test('audit verify passes, then finds an edited entry and deleted entries', async () => {
    const ok = await c.cli(['audit', 'verify']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /audit trail intact: \d+ entries verified/);
    const total = (await entries()).length;
    assert.ok(total >= 5);

    // Tamper with the state DB while the controller runs.
    const db = new DatabaseSync(path.join(c.dir, 'data', 'state.db'));
    db.exec('PRAGMA busy_timeout = 5000');
    try {
      const orig = db.prepare('SELECT actor, hash FROM audit WHERE seq = 2').get() as {
        actor: string;
        hash: string;
      };
      db.prepare("UPDATE audit SET actor = 'someone-else' WHERE seq = 2").run();
      const edited = await c.cli(['audit', 'verify']);
      assert.equal(edited.code, 1, edited.stdout);
      assert.match(edited.stdout, /BROKEN at entry 2 \(edited\)/);
      const v = await c.api<{ ok: boolean; broken: { seq: number; reason: string } }>(
        'GET',
        '/v1/audit/verify',
      );
      assert.deepEqual([v.body.ok, v.body.broken.seq, v.body.broken.reason], [false, 2, 'edited']);

      // Re-hashing the edited row does not help: the next entry no longer chains to it.
      db.prepare("UPDATE audit SET hash = 'f' || substr(hash, 2) WHERE seq = 2").run();
      assert.match((await c.cli(['audit', 'verify'])).stdout, /BROKEN at entry 2 \(edited\)/);

      // Put entry 2 back: intact again.
      db.prepare('UPDATE audit SET actor = ?, hash = ? WHERE seq = 2').run(orig.actor, orig.hash);
      assert.equal((await c.cli(['audit', 'verify'])).code, 0);

      // Delete an entry in the middle.
      const row = db.prepare('SELECT * FROM audit WHERE seq = 3').get() as Record<
        string,
        string | number | null
      >;
      db.prepare('DELETE FROM audit WHERE seq = 3').run();
      const deleted = await c.cli(['audit', 'verify']);
      assert.equal(deleted.code, 1);
      assert.match(deleted.stdout, /BROKEN at entry 3 \(deleted\)/);
      const cols = Object.keys(row);
      db.prepare(`INSERT INTO audit (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(
        ...cols.map((k) => row[k]),
      );
      assert.equal((await c.cli(['audit', 'verify'])).code, 0);

      // Delete the newest entry: the chain head still remembers it.
      db.prepare('DELETE FROM audit WHERE seq = ?').run(total);
      const tail = await c.cli(['audit', 'verify', '--json']);
      assert.equal(tail.code, 1);
      const body = JSON.parse(tail.stdout) as { ok: boolean; broken: { seq: number; reason: string } };
      assert.deepEqual([body.ok, body.broken.seq, body.broken.reason], [false, total, 'deleted']);
    } finally {
      db.close();
    }
  });
});
