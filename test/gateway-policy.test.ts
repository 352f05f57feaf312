/** Traffic policy through a real gateway to real upstreams: hash affinity and p2c. */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { RouteUpstream } from '../src/gateway/protocol.ts';
import {
  request,
  roleUpstream,
  service,
  startGateway,
  startUpstream,
  table,
  upstream,
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
