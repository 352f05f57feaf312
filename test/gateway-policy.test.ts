/** Traffic policy through a real gateway to real upstreams: hash affinity and p2c. */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { RouteUpstream } from '../src/gateway/protocol.ts';
import { RETRY_RESERVE } from '../src/gateway/retry-budget.ts';
import {
  closeServer,
  request,
  roleUpstream,
  service,
  startGateway,
  startUpstream,
  table,
  upstream,
  waitFor,
} from './helpers/gateway-helpers.ts';

const T = { timeout: 60_000 };

async function three(t: TestContext): Promise<RouteUpstream[]> {
  const ups: RouteUpstream[] = [];
  for (const name of ['a', 'b', 'c']) ups.push(upstream(`web-${name}`, (await startUpstream(t, name)).port));
  return ups;
}

async function homes(port: number, keys: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const k of keys) out.push((await request(port, '/', { headers: { 'x-user': k } })).body);
  return out;
}

const hashed = {
  balance: 'hash' as const,
  policy: { hashKey: { source: 'header' as const, name: 'x-user' } },
};
const KEYS = Array.from({ length: 200 }, (_, i) => `user-${i}`);

test('hash: a key keeps its instance, in another gateway process too, and keys spread', T, async (t) => {
  const ups = await three(t);
  const g1 = await startGateway(t, table(1, service('web', ups, hashed)));
  const g2 = await startGateway(t, table(1, service('web', [...ups].reverse(), hashed)));
  const first = await homes(g1.port, KEYS);
  assert.ok(first.length === KEYS.length && first.every((b) => b.startsWith('ok ')));
  assert.deepEqual(await homes(g1.port, KEYS), first);
  assert.deepEqual(await homes(g2.port, KEYS), first);
  const counts = new Map<string, number>();
  for (const b of first) counts.set(b, (counts.get(b) ?? 0) + 1);
  assert.equal(counts.size, 3);
});

test('hash composes with canary: the revision first, then the instance within it', T, async (t) => {
  const s1 = await startUpstream(t, 's1');
  const s2 = await startUpstream(t, 's2');
  const c1 = await startUpstream(t, 'c1');
  const ups = [
    roleUpstream('web-s1', s1.port, 'stable', 1),
    roleUpstream('web-s2', s2.port, 'stable', 1),
    roleUpstream('web-c1', c1.port, 'canary', 2),
  ];
  const traffic = {
    canaryWeight: 0,
    rules: [{ match: { header: { 'X-Beta': { exact: 'on' } } }, to: 'canary' as const }],
  };
  const { port } = await startGateway(t, table(1, service('web', ups, { ...hashed, traffic })));
  const stable = await homes(port, KEYS);
  assert.ok(stable.length > 0 && stable.every((b) => b === 'ok s1' || b === 'ok s2'));
  assert.ok(stable.includes('ok s1') && stable.includes('ok s2'));
  const beta = await request(port, '/', { headers: { 'x-user': 'user-1', 'x-beta': 'on' } });
  assert.equal(beta.body, 'ok c1');
});

test('p2c and random serve from every instance', T, async (t) => {
  for (const balance of ['p2c', 'random'] as const) {
    const ups = await three(t);
    const { port } = await startGateway(t, table(1, service('web', ups, { balance })));
    const seen = new Set<string>();
    for (let i = 0; i < 90; i++) seen.add((await request(port, '/')).body);
    assert.deepEqual([...seen].sort(), ['ok a', 'ok b', 'ok c']);
  }
});

test(
  "timeouts.request: a service waits its own time for response headers, others the gateway's",
  T,
  async (t) => {
    // Given an instance that answers after 1.5 s, routed as two services
    const slow = await startUpstream(t, 'slow', (_req, res) => {
      setTimeout(() => res.end('late'), 1_500);
    });
    const ups = [upstream('web-slow', slow.port)];
    const { port } = await startGateway(
      t,
      table(
        1,
        service('short', ups, { host: 'short.test', policy: { requestTimeoutMs: 200 } }),
        service('default', [upstream('web-slow-2', slow.port)], { host: 'default.test' }),
      ),
      { upstreamTimeoutMs: 10_000 },
    );
    // When both are asked, Then the one with timeouts.request answers 504 after its own time
    const [short, normal] = await Promise.all([
      request(port, '/', { host: 'short.test' }),
      request(port, '/', { host: 'default.test' }),
    ]);
    assert.equal(short.status, 504);
    assert.match(short.body, /within 200ms/);
    assert.equal(normal.status, 200);
    assert.equal(normal.body, 'late');
  },
);

test(
  'outlierDetection: an instance answering 5xx is ejected after consecutive5xx, never beyond maxEjectedPercent, and returns',
  T,
  async (t) => {
    // Given two healthy instances and one that answers 500
    const good1 = await startUpstream(t, 'g1');
    const good2 = await startUpstream(t, 'g2');
    const bad = await startUpstream(t, 'bad', (_req, res) => {
      res.statusCode = 500;
      res.end('broken');
    });
    const od = { consecutive5xx: 3, ejectForMs: 400, maxEjectedPercent: 50 };
    const { gw, port } = await startGateway(
      t,
      table(
        1,
        service(
          'web',
          [upstream('web-g1', good1.port), upstream('web-g2', good2.port), upstream('web-bad', bad.port)],
          {
            policy: { outlierDetection: od },
          },
        ),
      ),
    );
    // When 60 requests are sent one after another
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await request(port, '/')).status);
    // Then the bad instance saw exactly 3 (round robin, ejected after the third 500)
    assert.equal(bad.requests.length, 3);
    assert.equal(statuses.filter((s) => s === 500).length, 3);
    assert.equal(gw.routing.stats.service('web').ejections.get('web-bad'), 1);
    // And after ejectFor it takes requests again (and, still failing, is ejected for twice as long)
    await waitFor(
      async () => {
        await request(port, '/');
        return bad.requests.length > 3;
      },
      10_000,
      'the ejected instance serves again after ejectFor',
    );
    await waitFor(
      async () => {
        await request(port, '/');
        return gw.routing.stats.service('web').ejections.get('web-bad') === 2;
      },
      10_000,
      'ejected again after it fails again',
    );
    assert.equal(gw.routing.stats.service('web').ejections.get('web-bad'), 2);
  },
);

test(
  'outlierDetection never ejects more than maxEjectedPercent of a revision: two failing of two, one stays',
  T,
  async (t) => {
    const fail = (name: string) =>
      startUpstream(t, name, (_req, res) => {
        res.statusCode = 503;
        res.end(name);
      });
    const a = await fail('a');
    const b = await fail('b');
    const { gw, port } = await startGateway(
      t,
      table(
        1,
        service('web', [upstream('web-a', a.port), upstream('web-b', b.port)], {
          policy: { outlierDetection: { consecutive5xx: 2, ejectForMs: 60_000, maxEjectedPercent: 50 } },
        }),
      ),
    );
    for (let i = 0; i < 40; i++) await request(port, '/');
    const ej = gw.routing.stats.service('web').ejections;
    assert.equal(
      [...ej.values()].reduce((x, y) => x + y, 0),
      1,
      JSON.stringify([...ej]),
    );
    // The one left in keeps answering (its errors are the revision's, for analysis to judge)
    assert.ok(
      a.requests.length + b.requests.length === 40 && Math.max(a.requests.length, b.requests.length) >= 38,
    );
  },
);

test(
  'retries.budget caps retries during an outage of every instance; without a budget each request retries every attempt',
  T,
  async (t) => {
    // Given three instances that refuse connections (closed ports)
    const closed = async (name: string) => {
      const u = await startUpstream(t, name);
      await closeServer(u.server);
      return upstream(`web-${name}`, u.port);
    };
    const ups = [await closed('x'), await closed('y'), await closed('z')];
    const { gw, port } = await startGateway(
      t,
      table(
        1,
        service('budgeted', ups, {
          host: 'budgeted.test',
          policy: { retries: { attempts: 2, budgetPercent: 20 } },
        }),
        service(
          'unbounded',
          ups.map((u) => ({ ...u, instance: `${u.instance}-2` })),
          { host: 'unbounded.test' },
        ),
      ),
      { retries: 2 },
    );
    const N = 100;
    for (let i = 0; i < N; i++) {
      assert.equal((await request(port, '/', { host: 'budgeted.test' })).status, 502);
      assert.equal((await request(port, '/', { host: 'unbounded.test' })).status, 502);
    }
    const budgeted = gw.routing.stats.service('budgeted').retries;
    const unbounded = gw.routing.stats.service('unbounded').retries;
    t.diagnostic(
      `${N} requests during an outage: ${budgeted} retries with a 20% budget, ${unbounded} without`,
    );
    assert.equal(unbounded, 2 * N);
    assert.ok(budgeted <= 0.2 * N + RETRY_RESERVE && budgeted >= 0.2 * N - 1, `${budgeted} retries`);
  },
);
