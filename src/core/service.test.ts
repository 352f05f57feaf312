import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunSpec } from '../config/types.ts';
import type { ObservedInstance, ServiceSpec, ServiceState } from './model.ts';
import { deploy, initialServiceState, reconcileService, undo } from './service.ts';
import { ready } from './test-fixtures.ts';

const run = (v: string): RunSpec => ({
  command: `./releases/${v}/server --port \${PORT}`,
  cwd: '/srv',
  env: {},
});
const spec: ServiceSpec = {
  name: 'web',
  replicas: 2,
  revisionHistoryLimit: 10,
  strategy: {
    type: 'rolling',
    maxSurge: 1,
    maxUnavailable: 0,
    minReadySeconds: 0,
    progressDeadlineMs: 10_000,
    hostsAtOnce: 1,
  },
};

function healthyV1(): ServiceState {
  const s = initialServiceState('web', 'v1', run('v1'), 0);
  const plan = reconcileService(spec, s, [ready('a', 1), ready('b', 1)], 10);
  assert.equal(plan.state.phase, 'Healthy');
  return plan.state;
}

test('deploy creates revision N+1 and a rollout; a second deploy is refused while it runs', () => {
  const r = deploy(spec, healthyV1(), 'v2', run('v2'), 100);
  assert.ok(r.ok);
  assert.equal(r.revision, 2);
  assert.equal(r.state.rollout?.to, 2);
  assert.equal(r.state.rollout?.from, 1);
  assert.equal(r.state.phase, 'Progressing');
  const again = deploy(spec, r.state, 'v3', run('v3'), 101);
  assert.equal(again.ok, false);
  assert.equal(again.ok === false && again.code, 'rollout_in_progress');
});

test('rollout succeeds when the new revision is fully available and the old one gone', () => {
  const d = deploy(spec, healthyV1(), 'v2', run('v2'), 100);
  assert.ok(d.ok);
  const mid = reconcileService(spec, d.state, [ready('a', 1), ready('b', 1)], 200);
  assert.deepEqual(mid.actions, [{ type: 'start', service: 'web', revision: 2, count: 1 }]);
  const done = reconcileService(spec, mid.state, [ready('c', 2), ready('d', 2)], 5_000);
  assert.equal(done.state.rollout, undefined);
  assert.equal(done.state.stable, 2);
  assert.equal(done.state.phase, 'Healthy');
  assert.equal(done.state.lastRollout?.phase, 'Succeeded');
  assert.deepEqual(
    done.state.revisions.map((r) => [r.number, r.outcome]),
    [
      [1, 'superseded'],
      [2, 'stable'],
    ],
  );
  assert.equal(done.events[0].type, 'RolloutSucceeded');
});

test('a revision that never becomes ready fails at progressDeadline and rolls back automatically', () => {
  const d = deploy(spec, healthyV1(), 'v3', run('v3'), 100);
  assert.ok(d.ok);
  const crashing: ObservedInstance = { id: 'x', revision: 2, state: 'starting', restarts: 4 };
  const observed = [ready('a', 1), ready('b', 1), crashing];
  let s = reconcileService(spec, d.state, observed, 200).state;
  const before = reconcileService(spec, s, observed, 200 + 9_000);
  assert.equal(before.state.rollout?.phase, 'Progressing', 'no verdict before the deadline');
  assert.deepEqual(before.actions, [], 'old instances are kept while the new one is not ready');
  s = before.state;
  const failed = reconcileService(spec, s, observed, 200 + 10_001);
  assert.equal(failed.state.rollout?.kind, 'rollback');
  assert.equal(failed.state.rollout?.to, 1);
  assert.equal(failed.state.lastRollout?.phase, 'Failed');
  assert.deepEqual(
    failed.events.map((e) => e.type),
    ['RolloutFailed', 'RollbackStarted'],
  );
  assert.deepEqual(failed.actions, [
    { type: 'drain', service: 'web', instance: 'x', reason: 'replaced (unavailable)' },
  ]);
  assert.equal(failed.state.revisions.find((r) => r.number === 2)?.outcome, 'failed');
  const back = reconcileService(spec, failed.state, [ready('a', 1), ready('b', 1)], 20_000);
  assert.equal(back.state.rollout, undefined);
  assert.equal(back.state.stable, 1);
  assert.equal(back.state.phase, 'Degraded', 'a rolled-back service says so until the next good deploy');
  assert.equal(back.state.lastRollout?.kind, 'rollback');
  assert.equal(back.state.lastRollout?.phase, 'Succeeded');
  const later = reconcileService(spec, back.state, [ready('a', 1), ready('b', 1)], 21_000);
  assert.equal(later.state.phase, 'Degraded', 'still Degraded on the next reconcile');
  const fixed = deploy(spec, later.state, 'v4', run('v4'), 22_000);
  assert.ok(fixed.ok);
  const good = reconcileService(spec, fixed.state, [ready('c', 3), ready('d', 3)], 23_000);
  assert.equal(good.state.phase, 'Healthy', 'a successful rollout clears Degraded');
});

test('undo rolls out the previous good revision as a new revision; --to-revision picks one', () => {
  let s = healthyV1();
  for (const [v, n] of [
    ['v2', 2],
    ['v3', 3],
  ] as const) {
    const d = deploy(spec, s, v, run(v), n * 1000);
    assert.ok(d.ok);
    s = reconcileService(spec, d.state, [ready(`${v}a`, n), ready(`${v}b`, n)], n * 1000 + 1).state;
  }
  assert.equal(s.stable, 3);
  const u = undo(spec, s, 10_000);
  assert.ok(u.ok);
  assert.equal(u.revision, 4);
  assert.equal(u.state.revisions.at(-1)?.version, 'v2');
  assert.equal(u.state.rollout?.kind, 'undo');
  const to1 = undo(spec, s, 10_000, 1);
  assert.ok(to1.ok);
  assert.equal(to1.state.revisions.at(-1)?.version, 'v1');
  const missing = undo(spec, s, 10_000, 42);
  assert.equal(missing.ok === false && missing.code, 'no_such_revision');
  assert.equal(undo(spec, healthyV1(), 1).ok, false, 'nothing to undo on the first revision');
});

test('revision history is pruned to revisionHistoryLimit but keeps the stable revision', () => {
  const small: ServiceSpec = { ...spec, revisionHistoryLimit: 2 };
  let s = healthyV1();
  for (let n = 2; n <= 5; n++) {
    const d = deploy(small, s, `v${n}`, run(`v${n}`), n * 1000);
    assert.ok(d.ok);
    s = reconcileService(small, d.state, [ready(`a${n}`, n), ready(`b${n}`, n)], n * 1000 + 1).state;
  }
  assert.deepEqual(
    s.revisions.map((r) => r.number),
    [4, 5],
  );
});
