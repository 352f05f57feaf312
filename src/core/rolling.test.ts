import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RollingStrategy } from '../config/types.ts';
import type { ObservedInstance } from './model.ts';
import { rollingBudget } from './replicas.ts';
import { isAvailable, planRolling } from './rolling.ts';
import { ready } from './test-fixtures.ts';

const strategy = (
  maxSurge: number | string,
  maxUnavailable: number | string,
  minReadySeconds = 0,
): RollingStrategy => ({
  type: 'rolling',
  maxSurge,
  maxUnavailable,
  minReadySeconds,
  progressDeadlineMs: 60_000,
  hostsAtOnce: 1,
});

/**
 * Drives planRolling like the controller would: started instances become ready after `readyAfter`
 * ms, drained ones disappear one tick later. Checks the Kubernetes invariants at every tick.
 */
function simulate(
  replicas: number,
  surge: number | string,
  unavailable: number | string,
  minReadySeconds = 0,
) {
  const s = strategy(surge, unavailable, minReadySeconds);
  const budget = rollingBudget(surge, unavailable, replicas);
  let instances: ObservedInstance[] = Array.from({ length: replicas }, (_, i) => ready(`old-${i}`, 1));
  const startedAt = new Map<string, number>();
  let seq = 0;
  let now = 1_000_000;
  const tick = 100;
  const readyAfter = 300;
  let maxLive = 0;
  let minAvailable = replicas;
  for (let round = 0; round < 1000; round++) {
    const step = planRolling({ service: 'web', replicas, strategy: s, target: 2, instances, now });
    const live = instances.filter((i) => i.state !== 'draining');
    maxLive = Math.max(maxLive, live.length);
    minAvailable = Math.min(minAvailable, live.filter((i) => isAvailable(i, minReadySeconds, now)).length);
    if (step.complete) return { rounds: round, maxLive, minAvailable, budget, instances };
    instances = instances.filter((i) => i.state !== 'draining');
    for (const a of step.actions) {
      if (a.type === 'start') {
        for (let k = 0; k < a.count; k++) {
          const id = `new-${seq++}`;
          startedAt.set(id, now);
          instances.push({ id, revision: a.revision, state: 'starting', restarts: 0 });
        }
      } else if (a.type === 'drain') {
        instances = instances.map((i) => (i.id === a.instance ? { ...i, state: 'draining' } : i));
      }
    }
    now += tick;
    instances = instances.map((i) =>
      i.state === 'starting' && now - (startedAt.get(i.id) ?? now) >= readyAfter
        ? { ...i, state: 'ready', readySince: now }
        : i,
    );
  }
  throw new Error('rollout did not complete');
}

test('rolling update respects maxSurge and maxUnavailable at every step (table)', () => {
  const rows: Array<[number, number | string, number | string]> = [
    [4, '25%', 0],
    [4, 1, 0],
    [4, 0, 1],
    [4, '25%', '25%'],
    [4, '100%', 0],
    [1, '25%', 0],
    [1, 0, 1],
    [3, '10%', '10%'],
    [10, 3, 2],
    [5, '50%', '50%'],
  ];
  for (const [replicas, surge, unavailable] of rows) {
    const r = simulate(replicas, surge, unavailable);
    const label = `replicas=${replicas} maxSurge=${surge} maxUnavailable=${unavailable}`;
    assert.ok(r.maxLive <= replicas + r.budget.maxSurge, `${label}: live ${r.maxLive} exceeds surge`);
    assert.ok(
      r.minAvailable >= replicas - r.budget.maxUnavailable,
      `${label}: available fell to ${r.minAvailable}`,
    );
    assert.equal(r.instances.filter((i) => i.revision === 2).length, replicas, label);
    assert.equal(r.instances.length, replicas, label);
  }
});

test('maxUnavailable 0 keeps every old instance until a new one is available', () => {
  const s = strategy(1, 0);
  const old = [ready('a', 1), ready('b', 1)];
  const first = planRolling({ service: 'web', replicas: 2, strategy: s, target: 2, instances: old, now: 10 });
  assert.deepEqual(first.actions, [{ type: 'start', service: 'web', revision: 2, count: 1 }]);
  const starting: ObservedInstance = { id: 'n', revision: 2, state: 'starting', restarts: 0 };
  const waiting = planRolling({
    service: 'web',
    replicas: 2,
    strategy: s,
    target: 2,
    instances: [...old, starting],
    now: 10,
  });
  assert.deepEqual(waiting.actions, [], 'nothing drains while the new instance is not ready');
  const up = planRolling({
    service: 'web',
    replicas: 2,
    strategy: s,
    target: 2,
    instances: [...old, ready('n', 2, 5)],
    now: 10,
  });
  assert.equal(up.actions.length, 1);
  assert.equal(up.actions[0].type, 'drain');
});

test('minReadySeconds delays availability and therefore the removal of old instances', () => {
  const s = strategy(1, 0, 5);
  const instances = [ready('a', 1), ready('n', 2, 1_000)];
  const early = planRolling({ service: 'web', replicas: 1, strategy: s, target: 2, instances, now: 3_000 });
  assert.deepEqual(early.actions, []);
  const later = planRolling({ service: 'web', replicas: 1, strategy: s, target: 2, instances, now: 6_001 });
  assert.deepEqual(later.actions, [{ type: 'drain', service: 'web', instance: 'a', reason: 'replaced' }]);
  const r = simulate(3, 1, 0, 1);
  assert.equal(r.instances.length, 3);
});

test('unavailable old instances are replaced before available ones', () => {
  const s = strategy(1, 0);
  const crashed: ObservedInstance = { id: 'c', revision: 1, state: 'starting', restarts: 3 };
  const step = planRolling({
    service: 'web',
    replicas: 2,
    strategy: s,
    target: 2,
    instances: [ready('a', 1), crashed, ready('n', 2, 5)],
    now: 10,
  });
  assert.deepEqual(
    step.actions.filter((a) => a.type === 'drain').map((a) => (a.type === 'drain' ? a.instance : '')),
    ['c'],
  );
});

test('steady state: missing instances are started, extra ones drained, complete when settled', () => {
  const s = strategy('25%', 0);
  const missing = planRolling({
    service: 'web',
    replicas: 3,
    strategy: s,
    target: 1,
    instances: [ready('a', 1)],
    now: 1,
  });
  assert.deepEqual(missing.actions, [{ type: 'start', service: 'web', revision: 1, count: 2 }]);
  assert.equal(missing.complete, false);
  const extra = planRolling({
    service: 'web',
    replicas: 1,
    strategy: s,
    target: 1,
    instances: [ready('a', 1, 1), ready('b', 1, 2)],
    now: 5,
  });
  assert.deepEqual(extra.actions, [{ type: 'drain', service: 'web', instance: 'b', reason: 'scale down' }]);
  const settled = planRolling({
    service: 'web',
    replicas: 1,
    strategy: s,
    target: 1,
    instances: [ready('a', 1)],
    now: 5,
  });
  assert.deepEqual(settled.actions, []);
  assert.equal(settled.complete, true);
  const drainingLeft = planRolling({
    service: 'web',
    replicas: 1,
    strategy: s,
    target: 1,
    instances: [ready('a', 1), { id: 'x', revision: 0, state: 'draining', restarts: 0 }],
    now: 5,
  });
  assert.equal(drainingLeft.complete, false, 'not complete until draining instances are gone');
});
