/**
 * Fleet tokens against a real etcd: two hosts' state DBs mirror the fleet's tokens, so a token
 * made on one host works on the other and a revoked one stops working on both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenStore } from '../src/auth/tokens.ts';
import { FleetKeys } from '../src/fleet/keys.ts';
import { FleetTokens } from '../src/fleet/tokens.ts';
import { createLogger } from '../src/log/logger.ts';
import { EtcdClient } from '../src/store/etcd/client.ts';
import { SqliteStore } from '../src/store/store.ts';
import { type EtcdCluster, startEtcdCluster } from './helpers/etcd.ts';
import { waitFor } from './helpers/wait.ts';

const log = createLogger({ level: 'error' });

describe('API tokens across a fleet (real etcd)', { timeout: 60_000 }, () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await startEtcdCluster({ members: 1 });
  });
  after(() => etcd.stop());

  let seq = 0;
  /** A host: its own state DB (with its local admin token) and its mirror of the fleet's tokens. */
  async function host(t: { after: (fn: () => Promise<void> | void) => void }, prefix: string) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-fleet-tokens-'));
    const store = new SqliteStore(dir);
    const local = new TokenStore(store.db);
    local.ensureAdminToken(dir);
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const fleet = new FleetTokens({ client, keys: new FleetKeys(prefix), local, log });
    t.after(async () => {
      fleet.stop();
      await client.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { local, fleet, start: () => fleet.start() };
  }

  test('a token made on one host works on every host; revoked on another, it stops working everywhere', async (t) => {
    const prefix = `/t${++seq}/`;
    const a = await host(t, prefix);
    const b = await host(t, prefix);
    await a.start();
    await b.start();

    const made = await a.fleet.create('ci', 'deployer', ['web']);
    assert.ok(made);
    assert.equal(a.local.verify(made.token)?.name, 'ci', 'usable at once on the host that made it');
    await waitFor(() => b.local.verify(made.token) !== undefined, 10_000, 'the token reaches host b');
    assert.deepEqual(b.local.verify(made.token), { name: 'ci', role: 'deployer', services: ['web'] });

    assert.equal(await b.fleet.create('ci', 'viewer', []), undefined, 'the name is taken fleet-wide');
    assert.ok(await b.fleet.revoke('ci'));
    await waitFor(() => a.local.verify(made.token) === undefined, 10_000, 'revoked on host a');
    assert.equal(b.local.verify(made.token), undefined);
    assert.equal(await a.fleet.revoke('ci'), false, 'nothing left to revoke');
  });

  test("each host's admin token stays its own; a host's tokens from before it joined are shared by import", async (t) => {
    const prefix = `/t${++seq}/`;
    const a = await host(t, prefix);
    const b = await host(t, prefix);
    // Made on host a while it ran alone, before the fleet.
    const old = a.local.create('ops', 'admin', []);
    assert.ok(old);
    await a.start();
    await b.start();
    assert.equal(await a.fleet.create('admin', 'admin', []), undefined, '"admin" is every host\'s own');
    assert.equal(b.local.verify(old.token), undefined, 'not shared before the import');
    assert.ok(a.local.verify(old.token), 'kept on its host meanwhile');

    const first = await a.fleet.importLocal();
    assert.deepEqual(first, { imported: ['ops'], kept: [] });
    await waitFor(
      () => b.local.verify(old.token)?.name === 'ops',
      10_000,
      'the imported token reaches host b',
    );
    const again = await a.fleet.importLocal();
    assert.deepEqual(again, { imported: [], kept: ['ops'] }, 'an import twice changes nothing');
    const names = b.local.list().map((x) => x.name);
    assert.deepEqual(names.sort(), ['admin', 'ops']);
  });
});
