/** The etcd client against a real 3-member etcd cluster: key-value, txn, leases, watch, failover. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../src/runtime/ports.ts';
import {
  EtcdClient,
  EtcdError,
  EtcdUnavailableError,
  WatchCompactedError,
  type WatchEvent,
} from '../src/store/etcd/client.ts';
import { type EtcdCluster, startEtcdCluster } from './helpers/etcd.ts';
import { waitFor } from './helpers/wait.ts';

const WAIT_MS = 15_000;

describe('etcd client', { timeout: 120_000 }, () => {
  let cluster: EtcdCluster;
  const clients: EtcdClient[] = [];
  const client = (endpoints = cluster.endpoints, requestTimeoutMs?: number) => {
    const c = new EtcdClient({ endpoints, requestTimeoutMs });
    clients.push(c);
    return c;
  };

  before(async () => {
    cluster = await startEtcdCluster();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
  });

  test('put, get, prefix range and delete round-trip keys and values (UTF-8)', async () => {
    const c = client();
    const r1 = await c.put('/t/kv/a', 'één');
    const r2 = await c.put('/t/kv/b', '2');
    await c.put('/t/kvx', 'outside the prefix');
    assert.ok(r2 > r1, `revisions grow: ${r1} then ${r2}`);
    const a = await c.get('/t/kv/a');
    assert.equal(a?.value, 'één');
    assert.equal(a?.createRevision, r1);
    assert.equal(a?.version, 1);
    assert.equal(a?.lease, '0');
    assert.equal(await c.get('/t/kv/missing'), null);
    const { kvs, revision } = await c.range('/t/kv/');
    assert.deepEqual(
      kvs.map((kv) => [kv.key, kv.value]),
      [
        ['/t/kv/a', 'één'],
        ['/t/kv/b', '2'],
      ],
    );
    assert.ok(revision >= r2);
    assert.equal(await c.delete('/t/kv/', { prefix: true }), 2);
    assert.deepEqual((await c.range('/t/kv/')).kvs, []);
    assert.equal((await c.get('/t/kvx'))?.value, 'outside the prefix');
  });

  test('txn runs the success branch when the compares hold and the failure branch otherwise', async () => {
    const c = client();
    const created = await c.txn({
      compare: [{ key: '/t/txn', target: 'createRevision', op: '=', value: 0 }],
      success: [{ put: { key: '/t/txn', value: 'first' } }, { get: { key: '/t/txn' } }],
      failure: [{ get: { key: '/t/txn' } }],
    });
    assert.equal(created.succeeded, true);
    assert.equal(created.gets.length, 1);
    assert.equal(created.gets[0][0].value, 'first');
    const again = await c.txn({
      compare: [{ key: '/t/txn', target: 'createRevision', op: '=', value: 0 }],
      success: [{ put: { key: '/t/txn', value: 'second' } }],
      failure: [{ get: { key: '/t/txn' } }, { get: { key: '/t/', prefix: true } }],
    });
    assert.equal(again.succeeded, false);
    assert.equal(again.gets.length, 2);
    assert.equal(again.gets[0][0].value, 'first');
    assert.equal(again.gets[0][0].createRevision, created.revision);
    assert.ok(again.gets[1].length >= 1);
    const byValue = await c.txn({
      compare: [{ key: '/t/txn', target: 'value', op: '=', value: 'first' }],
      success: [{ delete: { key: '/t/txn' } }],
    });
    assert.equal(byValue.succeeded, true);
    assert.equal(await c.get('/t/txn'), null);
  });

  test('bad input is refused with an error naming the field; etcd answers come back as EtcdError', async () => {
    const c = client();
    await assert.rejects(
      c.txn({ compare: [], success: [{ put: { key: '/t/x' } } as never] }),
      /txn success\[0\]\.put: value must be a string/,
    );
    await assert.rejects(
      c.txn({ compare: [{ key: '/t/x', target: 'value', op: '<', value: 'a' } as never], success: [] }),
      /txn compare\[0\]: op "<" is not allowed for target value/,
    );
    assert.throws(
      () => new EtcdClient({ endpoints: ['127.0.0.1:2379'] }),
      /endpoints\[0\]: must be an http:\/\/ or https:\/\/ URL, got "127.0.0.1:2379"/,
    );
    // Two puts of one key in one txn: etcd itself refuses it.
    await assert.rejects(
      c.txn({
        compare: [],
        success: [{ put: { key: '/t/dup', value: '1' } }, { put: { key: '/t/dup', value: '2' } }],
      }),
      (err: unknown) => err instanceof EtcdError && /duplicate key/.test(err.message),
    );
  });

  test('a leased key is deleted when its lease expires; keepAlive reports the TTL, 0 once it is gone', async () => {
    const c = client();
    const lease = await c.grantLease(1);
    assert.match(lease, /^\d+$/);
    assert.ok((await c.keepAlive(lease)) >= 1);
    const rev = await c.put('/t/lease/k', 'v', { lease });
    assert.equal((await c.get('/t/lease/k'))?.lease, lease);
    const events: WatchEvent[] = [];
    const w = c.watch('/t/lease/', rev, (evs) => events.push(...evs));
    await waitFor(() => events.some((e) => e.type === 'delete'), WAIT_MS, 'the lease expiry delete event');
    w.close();
    assert.equal(events[0].kv.key, '/t/lease/k');
    assert.equal(await c.get('/t/lease/k'), null);
    assert.equal(await c.keepAlive(lease), 0);
    const other = await c.grantLease(5);
    await c.put('/t/lease/r', 'v', { lease: other });
    await c.revokeLease(other);
    assert.equal(await c.get('/t/lease/r'), null);
    await c.revokeLease(other); // gone already: not an error
  });

  test('a watch from a compacted revision reports it and goes on from the current revision', async () => {
    const c = client();
    const first = await c.put('/t/compact/a', '1');
    await c.put('/t/compact/a', '2');
    const head = await c.put('/t/compact/a', '3');
    // Compaction is not part of the client API: done over the gateway directly.
    const res = await fetch(`${cluster.endpoints[0]}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(head), physical: true }),
    });
    assert.equal(res.status, 200);
    const errors: Error[] = [];
    const seen: string[] = [];
    const w = c.watch(
      '/t/compact/',
      first - 1,
      (evs) => seen.push(...evs.map((e) => e.kv.value)),
      (e) => errors.push(e),
    );
    await waitFor(
      () => errors.some((e) => e instanceof WatchCompactedError),
      WAIT_MS,
      'the compaction error',
    );
    await c.put('/t/compact/a', 'after');
    await waitFor(() => seen.includes('after'), WAIT_MS, 'the event after the compaction');
    w.close();
    assert.deepEqual(seen, ['after']);
  });

  test('a watch sees puts and deletes in order and loses none when its member is killed', async (t) => {
    // The watcher starts on endpoints[0] (a fresh client's first choice); the writer avoids that member.
    const watcher = client();
    const writer = client([cluster.endpoints[1], cluster.endpoints[2], cluster.endpoints[0]]);
    const start = await writer.put('/t/watch/start', 'x');
    const events: WatchEvent[] = [];
    const errors: Error[] = [];
    const w = watcher.watch(
      '/t/watch/',
      start,
      (evs) => events.push(...evs),
      (e) => errors.push(e),
    );
    await writer.put('/t/watch/k0', 'v0');
    await writer.delete('/t/watch/k0');
    await waitFor(() => events.length === 2, WAIT_MS, 'the first put and delete');
    assert.deepEqual(
      events.map((e) => [e.type, e.kv.key]),
      [
        ['put', '/t/watch/k0'],
        ['delete', '/t/watch/k0'],
      ],
    );
    const N = 40;
    for (let i = 0; i < N; i++) {
      if (i === N / 2) await cluster.members[0].kill();
      await writer.put(`/t/watch/n${i}`, String(i));
    }
    await waitFor(() => events.length === 2 + N, WAIT_MS, `all ${N} puts across the kill`);
    w.close();
    const puts = events.slice(2).map((e) => e.kv.value);
    assert.deepEqual(
      puts,
      Array.from({ length: N }, (_, i) => String(i)),
    );
    const revs = events.map((e) => e.kv.modRevision);
    assert.deepEqual(
      revs,
      [...revs].sort((a, b) => a - b),
    );
    assert.ok(errors.length >= 1, 'the broken stream was reported');
    t.diagnostic(`watch reconnected after: ${errors[0]?.message}`);
    await cluster.members[0].start();
  });

  test('with one member killed, reads and writes go on through the other endpoints', async () => {
    const c = client();
    await c.put('/t/one-down', 'before');
    await cluster.members[0].kill();
    try {
      await c.put('/t/one-down', 'during');
      assert.equal((await c.get('/t/one-down'))?.value, 'during');
      assert.equal((await c.range('/t/one-down')).kvs.length, 1);
    } finally {
      await cluster.members[0].start();
    }
  });

  test('with quorum lost a put fails saying why; after the members restart writes work again', async (t) => {
    const c = client(cluster.endpoints, 1000);
    await c.put('/t/quorum', 'before');
    await Promise.all([cluster.members[1].kill(), cluster.members[2].kill()]);
    let err: unknown;
    try {
      await c.put('/t/quorum', 'without quorum');
    } catch (e) {
      err = e;
    }
    t.diagnostic(`put without quorum: ${(err as Error)?.message}`);
    assert.ok(err instanceof EtcdUnavailableError || err instanceof EtcdError, `got ${String(err)}`);
    for (const m of cluster.members) assert.ok((err as Error).message.includes(m.clientUrl), m.clientUrl);
    assert.match((err as Error).message, /ECONNREFUSED/);
    assert.match((err as Error).message, /no leader|timeout after|timed out/);
    await Promise.all([cluster.members[1].start(), cluster.members[2].start()]);
    await c.put('/t/quorum', 'after');
    assert.equal((await c.get('/t/quorum'))?.value, 'after');
  });

  test('with no endpoint reachable the error names every endpoint and its failure', async () => {
    const dead = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    const c = client(dead);
    await assert.rejects(c.get('/t/x'), (err: unknown) => {
      assert.ok(err instanceof EtcdUnavailableError);
      assert.equal(err.message, `etcd unreachable: ${dead[0]} (ECONNREFUSED), ${dead[1]} (ECONNREFUSED)`);
      return true;
    });
  });
});
