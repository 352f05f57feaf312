/**
 * The fleet's audit chain against a real etcd: hosts append to their own SQLite chains, shippers
 * put every entry into the one fleet chain exactly once, and tampering in etcd is detected.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuditLog, type NewAuditEntry } from '../src/audit/log.ts';
import { FleetAudit, type FleetAuditEntry } from '../src/fleet/audit.ts';
import { FleetKeys } from '../src/fleet/keys.ts';
import { createLogger } from '../src/log/logger.ts';
import { EtcdClient } from '../src/store/etcd/client.ts';
import { SqliteStore } from '../src/store/store.ts';
import { type EtcdCluster, startEtcdCluster } from './helpers/etcd.ts';

const log = createLogger({ level: 'error' });

const entry = (action: string, service = 'web'): NewAuditEntry => ({
  actor: 'ci',
  role: 'deployer',
  action,
  service,
  revision: null,
  params: '{}',
  source: '127.0.0.1',
  status: 202,
  code: null,
});

describe("the fleet's audit chain (real etcd)", { timeout: 60_000 }, () => {
  let etcd: EtcdCluster;
  let client: EtcdClient;
  before(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    client = new EtcdClient({ endpoints: etcd.endpoints });
  });
  after(async () => {
    await client.close();
    await etcd.stop();
  });

  let seq = 0;
  function host(t: { after: (fn: () => void) => void }, name: string, keys: FleetKeys) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-fleet-audit-'));
    const store = new SqliteStore(dir);
    const local = new AuditLog(store.db);
    const fleet = () => new FleetAudit({ client, keys, host: name, local, log });
    t.after(() => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { local, fleet };
  }

  test('every host entry joins the fleet chain exactly once, also with two shippers of one host racing', async (t) => {
    const keys = new FleetKeys(`/a${++seq}/`);
    const a = host(t, 'web-1', keys);
    const b = host(t, 'web-2', keys);
    // web-1 has history from before it joined the fleet.
    for (let i = 0; i < 5; i++) a.local.append(entry(`before-${i}`));
    for (let i = 0; i < 20; i++) {
      a.local.append(entry(`a-${i}`));
      b.local.append(entry(`b-${i}`, 'api'));
    }
    // Two shippers for web-1 (a lost answer retried, a restarted host) and one for web-2, at once.
    await Promise.all([a.fleet().ship(), a.fleet().ship(), b.fleet().ship()]);

    const chain = a.fleet();
    const all = await chain.list({ limit: 1000 });
    assert.equal(all.length, 45);
    const of = (h: string) => all.filter((e) => e.host === h).map((e) => e.hostSeq);
    assert.deepEqual(
      of('web-1'),
      Array.from({ length: 25 }, (_, i) => i + 1),
      'in order, once each',
    );
    assert.deepEqual(
      of('web-2'),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      all.map((e) => e.seq),
      Array.from({ length: 45 }, (_, i) => i + 1),
    );
    assert.deepEqual(await chain.verify(), { ok: true, entries: 45, head: 45 });
    const api = await chain.list({ service: 'api', limit: 5 });
    assert.ok(api.length === 5 && api.every((e) => e.service === 'api' && e.host === 'web-2'));

    // Nothing new: a pass ships nothing.
    assert.equal(await a.fleet().ship(), 0);
  });

  test('an entry edited or deleted in etcd breaks the verification at that entry', async (t) => {
    const keys = new FleetKeys(`/a${++seq}/`);
    const a = host(t, 'web-1', keys);
    for (let i = 0; i < 4; i++) a.local.append(entry(`x-${i}`));
    const chain = a.fleet();
    assert.equal(await chain.ship(), 4);

    const kv = await client.get(keys.auditEntry(2));
    assert.ok(kv);
    const e = JSON.parse(kv.value) as FleetAuditEntry;
    await client.put(keys.auditEntry(2), JSON.stringify({ ...e, actor: 'someone-else' }));
    const edited = await chain.verify();
    assert.equal(edited.ok, false);
    assert.deepEqual(edited.broken, {
      seq: 2,
      reason: 'edited',
      message: 'fleet entry 2 was modified (hash mismatch)',
    });

    await client.put(keys.auditEntry(2), kv.value);
    await client.delete(keys.auditEntry(4));
    const deleted = await chain.verify();
    assert.equal(deleted.ok, false);
    assert.equal(deleted.broken?.reason, 'deleted');
    assert.equal(deleted.broken?.seq, 4);
  });
});
