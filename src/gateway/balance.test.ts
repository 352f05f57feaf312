import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Balanced, instanceSeed, pickHashed, pickRandom, pickTwoChoices } from './balance.ts';
import { fnv1a32 } from './traffic.ts';

const group = (ids: string[]): { ups: Balanced[]; seeds: number[] } => ({
  ups: ids.map((instance) => ({ instance, inflight: 0 })),
  seeds: ids.map(instanceSeed),
});

const KEYS = Array.from({ length: 10_000 }, (_, i) => fnv1a32(`user-${i}`));

function mapping(ids: string[]): string[] {
  const { ups, seeds } = group(ids);
  return KEYS.map((k) => ups[pickHashed(ups, seeds, k)].instance);
}

for (const n of [2, 3, 5, 10]) {
  test(`hash: adding one instance to ${n} moves fewer than 1/(N+1) + 2% of 10,000 keys, all to the new one`, () => {
    const ids = Array.from({ length: n }, (_, i) => `web-1-${i.toString(36)}x`);
    const before = mapping(ids);
    const after = mapping([...ids, 'web-2-new']);
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        assert.equal(after[i], 'web-2-new');
      }
    }
    assert.ok(moved > 0);
    assert.ok(moved / KEYS.length < 1 / (n + 1) + 0.02, `moved ${moved}`);
  });
}

test('hash: nothing moves when nothing changes, whatever the order of the group', () => {
  const ids = ['web-a', 'web-b', 'web-c', 'web-d'];
  const first = mapping(ids);
  assert.deepEqual(mapping(ids), first);
  const reordered = mapping([...ids].reverse());
  assert.deepEqual(reordered, first);
});

test('hash: removing one instance moves only its keys', () => {
  const ids = ['web-a', 'web-b', 'web-c', 'web-d'];
  const before = mapping(ids);
  const after = mapping(ids.filter((id) => id !== 'web-c'));
  let moved = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] !== after[i]) {
      moved++;
      assert.equal(before[i], 'web-c');
    }
  }
  assert.ok(moved > 0);
});

test('hash: an overloaded instance passes its keys to the next one, and gets them back', () => {
  const { ups, seeds } = group(['web-a', 'web-b', 'web-c']);
  const k = KEYS[7];
  const home = pickHashed(ups, seeds, k);
  ups[home].inflight = 10;
  const other = pickHashed(ups, seeds, k);
  assert.notEqual(other, home);
  ups[home].inflight = 0;
  assert.equal(pickHashed(ups, seeds, k), home);
  assert.equal(pickHashed([], [], k), -1);
});

test('p2c picks the less loaded of two, random stays in range', () => {
  const ups: Balanced[] = [
    { instance: 'a', inflight: 5 },
    { instance: 'b', inflight: 1 },
  ];
  const draws = [0.1, 0.1];
  assert.equal(
    pickTwoChoices(ups, () => draws.shift() ?? 0),
    1,
  );
  assert.equal(pickTwoChoices([ups[0]]), 0);
  for (let i = 0; i < 100; i++) {
    const r = pickRandom(3);
    assert.ok(r >= 0 && r < 3);
  }
});
