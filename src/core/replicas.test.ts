import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveIntOrPercent, rollingBudget } from './replicas.ts';

test('resolveIntOrPercent rounds surge up and unavailable down (Kubernetes table)', () => {
  const rows: Array<[string | number, number, boolean, number]> = [
    [0, 4, true, 0],
    [2, 4, false, 2],
    ['25%', 4, true, 1],
    ['25%', 4, false, 1],
    ['25%', 3, true, 1],
    ['25%', 3, false, 0],
    ['25%', 10, true, 3],
    ['25%', 10, false, 2],
    ['10%', 30, true, 3],
    ['10%', 30, false, 3],
    ['33%', 3, true, 1],
    ['33%', 3, false, 0],
    ['50%', 1, true, 1],
    ['50%', 1, false, 0],
    ['100%', 4, true, 4],
    ['200%', 3, true, 6],
    ['0%', 5, true, 0],
  ];
  for (const [value, total, up, want] of rows) {
    assert.equal(resolveIntOrPercent(value, total, up), want, `${value} of ${total} (${up ? 'up' : 'down'})`);
  }
});

test('rollingBudget lets the rollout move when both limits round to zero', () => {
  assert.deepEqual(rollingBudget(0, '10%', 3), { maxSurge: 0, maxUnavailable: 1 });
  assert.deepEqual(rollingBudget('0%', '0%', 3), { maxSurge: 0, maxUnavailable: 1 });
  assert.deepEqual(rollingBudget('25%', 0, 4), { maxSurge: 1, maxUnavailable: 0 });
  assert.deepEqual(rollingBudget(1, 10, 4), { maxSurge: 1, maxUnavailable: 4 });
});

test('rollingBudget matches Kubernetes for common strategies (table)', () => {
  const cases: Array<
    [string | number, string | number, number, { maxSurge: number; maxUnavailable: number }]
  > = [
    ['25%', '25%', 4, { maxSurge: 1, maxUnavailable: 1 }],
    ['25%', '25%', 1, { maxSurge: 1, maxUnavailable: 0 }],
    ['25%', '25%', 10, { maxSurge: 3, maxUnavailable: 2 }],
    ['0%', '10%', 4, { maxSurge: 0, maxUnavailable: 1 }],
    [0, '100%', 3, { maxSurge: 0, maxUnavailable: 3 }],
    [2, 5, 3, { maxSurge: 2, maxUnavailable: 3 }],
    ['150%', 0, 2, { maxSurge: 3, maxUnavailable: 0 }],
  ];
  for (const [surge, unavailable, replicas, expected] of cases) {
    assert.deepEqual(
      rollingBudget(surge, unavailable, replicas),
      expected,
      `${surge}/${unavailable}/${replicas}`,
    );
  }
});
