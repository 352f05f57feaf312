/** Leader election with fenced writes against a real 3-member etcd cluster (TTL 2 s). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Leadership, NotLeaderError } from '../src/fleet/leadership.ts';
import { silentLogger } from '../src/log/logger.ts';
import { EtcdClient } from '../src/store/etcd/client.ts';
import { type EtcdCluster, startEtcdCluster } from './helpers/etcd.ts';
import { waitFor } from './helpers/wait.ts';

const TTL_SECONDS = 2;
const WAIT_MS = 15_000;

describe('fleet leadership', { timeout: 120_000 }, () => {
  let cluster: EtcdCluster;
  const clients: EtcdClient[] = [];
  const leaderships: Leadership[] = [];
  let keys = 0;

  const client = (endpoints = cluster.endpoints) => {
    const c = new EtcdClient({ endpoints, requestTimeoutMs: 500 });
    clients.push(c);
    return c;
  };
  /** Candidates h0.. on a fresh key, each with its own client; started in order. */
  const candidates = (n: number, endpoints?: (i: number) => string[]) => {
    const key = `/t/leader/${keys++}`;
    const list = Array.from({ length: n }, (_, i) => {
      const l = new Leadership({
        client: client(endpoints?.(i)),
        key,
        candidate: `h${i}`,
        ttlSeconds: TTL_SECONDS,
        log: silentLogger,
      });
      leaderships.push(l);
      return l;
    });
    return { key, list };
  };
  const leaders = (list: Leadership[]) => list.filter((l) => l.isLeader());
  const electedAt = (l: Leadership) =>
    new Promise<number>((resolve) => l.once('elected', () => resolve(Date.now())));

  before(async () => {
    cluster = await startEtcdCluster();
  });
  after(async () => {
    for (const l of leaderships) await l.stop();
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
  });

  test('of three candidates exactly one leads and the others know its name', async () => {
    const { key, list } = candidates(3);
    for (const l of list) l.start();
    await waitFor(() => leaders(list).length === 1, WAIT_MS, 'one leader');
    const [leader] = leaders(list);
    const name = leader.leader()!;
    await waitFor(() => list.every((l) => l.leader() === name), WAIT_MS, 'everyone to see the leader');
    assert.equal(leaders(list).length, 1);
    assert.equal((await client().get(key))?.value, name);
  });

  test('when the leader dies (no resign) another takes over after the TTL', async (t) => {
    const { key, list } = candidates(3);
    for (const l of list) l.start();
    await waitFor(() => leaders(list).length === 1, WAIT_MS, 'one leader');
    const [old] = leaders(list);
    const before = await client().get(key);
    const others = list.filter((l) => l !== old);
    const takeover = Promise.race(others.map(electedAt));
    const stoppedAt = Date.now();
    await old.stop();
    const at = await takeover;
    t.diagnostic(`takeover after ${at - stoppedAt} ms (TTL ${TTL_SECONDS} s)`);
    assert.equal(leaders(list).length, 1);
    assert.notEqual(leaders(list)[0], old);
    const now = await client().get(key);
    assert.notEqual(now?.value, before?.value);
    assert.ok(now!.createRevision > before!.createRevision);
  });

  test('resign hands over at once, without waiting for the TTL', async (t) => {
    const { list } = candidates(3);
    for (const l of list) l.start();
    await waitFor(() => leaders(list).length === 1, WAIT_MS, 'one leader');
    const [old] = leaders(list);
    const takeover = Promise.race(list.filter((l) => l !== old).map(electedAt));
    const resignedAt = Date.now();
    await old.resign();
    const at = await takeover;
    t.diagnostic(`handover after resign: ${at - resignedAt} ms (TTL ${TTL_SECONDS} s)`);
    assert.equal(old.isLeader(), false);
    assert.equal(leaders(list).length, 1);
  });

  test('fenced writes apply while leading; a deposed leader gets NotLeaderError and writes nothing', async (t) => {
    const { key, list } = candidates(1);
    const [l] = list;
    l.start();
    await waitFor(() => l.isLeader(), WAIT_MS, 'the only candidate to lead');
    const c = client();
    const ok = await l.fencedTxn({
      compare: [{ key: '/t/fenced/a', target: 'version', op: '=', value: 0 }],
      success: [{ put: { key: '/t/fenced/a', value: 'by leader' } }],
      failure: [{ get: { key: '/t/fenced/a' } }],
    });
    assert.equal(ok.succeeded, true);
    assert.equal((await c.get('/t/fenced/a'))?.value, 'by leader');
    const again = await l.fencedTxn({
      compare: [{ key: '/t/fenced/a', target: 'version', op: '=', value: 0 }],
      success: [{ put: { key: '/t/fenced/a', value: 'twice' } }],
      failure: [{ get: { key: '/t/fenced/a' } }],
    });
    assert.equal(again.succeeded, false, "the caller's own compare failed: its failure branch ran");
    assert.equal(again.gets[0][0].value, 'by leader');
    // Someone else overwrites the key behind the leader's back (which also detaches it from the lease).
    const deposed = new Promise<string>((resolve) => l.once('deposed', resolve));
    await c.put(key, 'intruder');
    let err: unknown;
    try {
      await l.fencedTxn({ success: [{ put: { key: '/t/fenced/b', value: 'stale leader' } }] });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof NotLeaderError, `got ${String(err)}`);
    t.diagnostic(`refused: ${(err as Error).message}; deposed: ${await deposed}`);
    assert.equal(await c.get('/t/fenced/b'), null);
    assert.equal(l.isLeader(), false);
    await waitFor(() => l.leader() === 'intruder', WAIT_MS, 'the new holder to be seen');
    await l.stop();
  });

  test('a leader cut off from etcd stops leading before another candidate can be elected', async (t) => {
    // h0 talks to member m0 only; the others to m1 and m2. Killing m0 cuts h0 off.
    const { list } = candidates(3, (i) => (i === 0 ? [cluster.endpoints[0]] : cluster.endpoints.slice(1)));
    const [cut, ...others] = list;
    cut.start();
    await waitFor(() => cut.isLeader(), WAIT_MS, 'h0 to lead');
    for (const l of others) l.start();
    await waitFor(() => others.every((l) => l.leader() === 'h0'), WAIT_MS, 'the others to see h0');
    const deposed = new Promise<number>((resolve) => cut.once('deposed', () => resolve(Date.now())));
    let cutLeadsAtTakeover: boolean | undefined;
    const takeover = Promise.race(
      others.map(
        (l) =>
          new Promise<number>((resolve) =>
            l.once('elected', () => {
              cutLeadsAtTakeover = cut.isLeader();
              resolve(Date.now());
            }),
          ),
      ),
    );
    const killedAt = Date.now();
    await cluster.members[0].kill();
    try {
      const deposedAt = await deposed;
      const at = await takeover;
      t.diagnostic(
        `cut-off leader deposed after ${deposedAt - killedAt} ms, new leader after ${at - killedAt} ms`,
      );
      assert.equal(cutLeadsAtTakeover, false);
      assert.ok(deposedAt <= at, 'deposed before the takeover');
      assert.equal(cut.isLeader(), false);
      assert.equal(leaders(list).length, 1);
    } finally {
      await cluster.members[0].start();
    }
    const name = leaders(list)[0].leader();
    await waitFor(() => cut.leader() === name, WAIT_MS, 'h0 to see the new leader once etcd is back');
    assert.equal(cut.isLeader(), false);
  });
});
