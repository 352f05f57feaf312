import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnalysisState, startAnalysis } from '../analysis/run.ts';
import type { AnalysisConfig, RollingStrategy } from '../config/types.ts';
import type { ObservedInstance, RollingRollout, ServiceSpec, ServiceState } from './model.ts';
import { reconcileRolling } from './rolling.ts';
import { batchSize, gateRolling } from './rolling-analysis.ts';
import { analysis, ready, rollingDeploy, run } from './test-fixtures.ts';

const strategy: RollingStrategy = {
  type: 'rolling',
  maxSurge: 1,
  maxUnavailable: 0,
  minReadySeconds: 0,
  progressDeadlineMs: 60_000,
  hostsAtOnce: 1,
};
const spec = (gate?: AnalysisConfig['gate']): ServiceSpec => ({
  name: 'web',
  replicas: 4,
  strategy,
  revisionHistoryLimit: 10,
  analysis: gate ? { ...analysis, gate } : analysis,
});
const rollout = rollingDeploy;
const state = (r: RollingRollout): ServiceState => ({
  name: 'web',
  revisions: [1, 2].map((number) => ({
    number,
    version: `v${number}`,
    run,
    createdAt: 0,
    outcome: 'pending',
  })),
  stable: 1,
  rollout: r,
  phase: 'Progressing',
});
const withVerdict = (status: 'Pass' | 'Pending', at = 0): AnalysisState => {
  const started = startAnalysis(analysis, at);
  return {
    ...started,
    metrics: {
      errors: { ...started.metrics.errors, latest: { name: 'errors', status, reason: status, at } },
    },
  };
};
const failed = (): AnalysisState => ({
  ...startAnalysis(analysis, 0),
  phase: 'Failed',
  message: 'errors: 5%',
});
/** One new instance moved in, three old ones still serving. */
const firstBatch: ObservedInstance[] = [ready('n0', 2), ready('o1', 1), ready('o2', 1), ready('o3', 1)];

test('a batch is the surge plus unavailable budget, at least one instance', () => {
  assert.equal(batchSize(strategy, 4), 1);
  assert.equal(batchSize({ ...strategy, maxSurge: '50%', maxUnavailable: 1 }, 4), 3);
  assert.equal(batchSize({ ...strategy, maxSurge: 0, maxUnavailable: 0 }, 4), 1);
});

test('everyBatch: the first batch is judged before the second starts; a pass clears the next one', () => {
  const counts = { current: 1, available: 1, old: 3 };
  const table: { name: string; rollout: RollingRollout; cap: number | undefined; waiting: boolean }[] = [
    { name: 'batch not in place yet', rollout: rollout(), cap: 1, waiting: false },
    { name: 'in place: judging starts', rollout: rollout({ cleared: 1 }), cap: 1, waiting: true },
    {
      name: 'no verdict yet',
      rollout: rollout({ cleared: 1, analysis: withVerdict('Pending', 10) }),
      cap: 1,
      waiting: true,
    },
    {
      name: 'passed',
      rollout: rollout({ cleared: 1, analysis: withVerdict('Pass', 10) }),
      cap: 2,
      waiting: false,
    },
    { name: 'last batch needs no old', rollout: rollout({ cleared: 4 }), cap: undefined, waiting: false },
  ];
  for (const row of table) {
    const c = row.name === 'batch not in place yet' ? { current: 1, available: 0, old: 4 } : counts;
    const gate = gateRolling(spec(), strategy, row.rollout, c, 100);
    assert.equal(gate.kind, 'go', row.name);
    if (gate.kind !== 'go') continue;
    assert.equal(gate.cap, row.cap, row.name);
    assert.equal(gate.waitingFor !== undefined, row.waiting, row.name);
  }
  const started = gateRolling(spec(), strategy, rollout(), counts, 100);
  assert.equal(started.rollout.analysis?.phase, 'Running', 'judging starts when the batch is in place');
  const passed = gateRolling(
    spec(),
    strategy,
    rollout({ cleared: 1, analysis: withVerdict('Pass') }),
    counts,
    100,
  );
  assert.equal(passed.rollout.cleared, 2);
  assert.equal(passed.rollout.analysis, undefined, 'the next batch gets an analysis of its own');
});

test('everyBatch: no verdict within progressDeadline finishes the analysis on what it saw', () => {
  const gate = gateRolling(
    spec(),
    strategy,
    rollout({ cleared: 1, analysis: withVerdict('Pending') }),
    { current: 1, available: 1, old: 3 },
    60_001,
  );
  assert.equal(gate.rollout.analysis?.phase, 'Inconclusive', 'no traffic sample: inconclusive, held');
  assert.equal(gate.kind === 'go' && gate.paused, true);
});

test('background: nothing is held, the analysis runs over the whole rollout', () => {
  const gate = gateRolling(spec('background'), strategy, rollout(), { current: 1, available: 1, old: 3 }, 5);
  assert.equal(gate.kind === 'go' && gate.cap, undefined);
  assert.equal(gate.rollout.analysis?.phase, 'Running');
});

test('a Failed verdict rolls back at once: new instances drained, old revision started to full size', () => {
  for (const gate of [undefined, 'background'] as const) {
    const r = rollout({ cleared: 1, analysis: failed() });
    const plan = reconcileRolling(spec(gate), strategy, state(r), r, firstBatch, 100);
    assert.equal(plan.state.rollout?.kind, 'rollback');
    assert.equal(plan.state.rollout?.to, 1);
    assert.equal(plan.state.revisions.find((x) => x.number === 2)?.outcome, 'failed');
    assert.deepEqual(plan.actions, [
      { type: 'drain', service: 'web', instance: 'n0', reason: 'rolled back by analysis' },
      { type: 'start', service: 'web', revision: 1, count: 1 },
    ]);
    assert.deepEqual(
      plan.events.map((e) => e.type),
      ['AnalysisFailed', 'RolloutFailed', 'RollbackStarted'],
    );
  }
});

test('simulation: a healthy revision moves one batch per pass and never exceeds the budget', () => {
  let instances: ObservedInstance[] = Array.from({ length: 4 }, (_, i) => ready(`o${i}`, 1));
  let r = rollout();
  let s = state(r);
  let seq = 0;
  let passes = 0;
  for (let now = 1; now < 500; now++) {
    const plan = reconcileRolling(spec(), strategy, s, r, instances, now);
    if (!plan.state.rollout) {
      assert.equal(plan.state.stable, 2);
      assert.equal(passes, 3, 'three verdicts: after batches 1, 2 and 3 (the fourth has no old to compare)');
      return;
    }
    s = plan.state;
    r = plan.state.rollout as RollingRollout;
    const live = instances.filter((i) => i.state !== 'draining');
    assert.ok(live.length <= 5, 'never more than replicas + maxSurge');
    assert.ok(live.filter((i) => i.state === 'ready').length >= 4, 'never fewer than replicas available');
    assert.ok(live.filter((i) => i.revision === 2).length <= (r.cleared ?? 1), 'no batch before its verdict');
    instances = instances
      .filter((i) => i.state !== 'draining')
      .map((i) => (i.state === 'starting' ? { ...i, state: 'ready', readySince: now } : i));
    for (const a of plan.actions) {
      if (a.type === 'start')
        for (let k = 0; k < a.count; k++)
          instances.push({ id: `n${seq++}`, revision: a.revision, state: 'starting', restarts: 0 });
      if (a.type === 'drain')
        instances = instances.map((i) => (i.id === a.instance ? { ...i, state: 'draining' } : i));
    }
    // The analysis passes a few ticks after it started.
    if (
      r.analysis &&
      now - r.analysis.startedAt >= 3 &&
      r.analysis.metrics.errors.latest?.status !== 'Pass'
    ) {
      r = { ...r, analysis: withVerdict('Pass', now) };
      s = { ...s, rollout: r };
      passes++;
    }
  }
  assert.fail('the rollout did not complete');
});
