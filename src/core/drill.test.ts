import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnalysisState, startAnalysis } from '../analysis/run.ts';
import { parseDrillFault } from '../config/drill-fault.ts';
import type { RollingStrategy } from '../config/types.ts';
import { abort, promote, retry, setPaused } from './commands.ts';
import { drillFaultConfig, reconcileDrill, runningDrill, startDrill } from './drill.ts';
import type { CanaryRollout, DrillSetting, ServiceSpec, ServiceState } from './model.ts';
import { resumeServices } from './resume.ts';
import { reconcileService } from './service.ts';
import { analysis, ready, run } from './test-fixtures.ts';
import { routingView } from './traffic.ts';

const strategy: RollingStrategy = {
  type: 'rolling',
  maxSurge: 1,
  maxUnavailable: 0,
  minReadySeconds: 0,
  progressDeadlineMs: 60_000,
  hostsAtOnce: 1,
};
const spec: ServiceSpec = { name: 'web', replicas: 2, strategy, revisionHistoryLimit: 10, analysis };
const healthy: ServiceState = {
  name: 'web',
  revisions: [{ number: 1, version: 'v1', run, createdAt: 0, outcome: 'stable' }],
  stable: 1,
  phase: 'Healthy',
};
const setting: DrillSetting = {
  fault: { kind: 'errors', percent: 5, status: 503 },
  weight: 20,
  timeoutMs: 60_000,
};

function started(): ServiceState {
  const r = startDrill(spec, healthy, setting, 1000);
  assert.ok(r.ok);
  return r.state;
}

test('parseDrillFault: errors and latency, or a clear error', () => {
  const table: Array<[string, unknown]> = [
    ['errors:5%', { kind: 'errors', percent: 5, status: 503 }],
    ['errors:0.5%', { kind: 'errors', percent: 0.5, status: 503 }],
    ['latency:300ms', { kind: 'latency', ms: 300, percent: 100 }],
    ['latency:1s@20%', { kind: 'latency', ms: 1000, percent: 20 }],
    ['errors:0%', undefined],
    ['errors:5', undefined],
    ['latency:fast', undefined],
    ['timeouts:5%', undefined],
  ];
  for (const [text, want] of table) {
    const r = parseDrillFault(text);
    if (want === undefined) {
      assert.equal(r.ok, false, text);
      if (!r.ok) assert.match(r.error, /errors:N% .* or latency:DURATION/);
    } else assert.deepEqual(r.ok ? r.fault : r.error, want, text);
  }
});

test('startDrill: a new revision copying stable, marked drill; refused while rolling out or without analysis', () => {
  const s = started();
  const d = runningDrill(s);
  assert.ok(d);
  assert.equal(d.to, 2);
  assert.equal(d.from, 1);
  assert.equal(s.stable, 1);
  const rev = s.revisions.find((r) => r.number === 2);
  assert.deepEqual([rev?.version, rev?.run, rev?.drill], ['v1', run, true]);
  assert.equal(startDrill(spec, s, setting, 2000).ok, false);
  const none = startDrill({ ...spec, analysis: undefined }, healthy, setting, 0);
  assert.ok(!none.ok && /has no analysis/.test(none.message));
  assert.deepEqual(drillFaultConfig(setting.fault, 2), { revision: 2, abort: { status: 503, percent: 5 } });
});

test('reconcileDrill: stable kept at full size, one canary that takes its weight once ready', () => {
  const s = started();
  // Whatever the service strategy (rolling here), the drill is a canary.
  const first = reconcileService(spec, s, [ready('a', 1), ready('b', 1)], 1100);
  assert.deepEqual(first.actions, [{ type: 'start', service: 'web', revision: 2, count: 1 }]);
  assert.equal(runningDrill(first.state)?.canaryWeight, 0);
  const second = reconcileService(spec, first.state, [ready('a', 1), ready('b', 1), ready('c', 2)], 1500);
  assert.deepEqual(second.actions, []);
  assert.equal(runningDrill(second.state)?.canaryWeight, 20);
  const view = routingView(spec, second.state);
  assert.deepEqual(
    [...view.roles],
    [
      [1, 'stable'],
      [2, 'canary'],
    ],
  );
  assert.equal(view.all, false);
  assert.equal(view.traffic?.canaryWeight, 20);
});

test('the drill ends: aborted by a Failed analysis (passed) or not within its time (failed); stable untouched', () => {
  const s = started();
  const d = runningDrill(s) as CanaryRollout;
  const failed: AnalysisState = {
    ...startAnalysis(analysis, 1000),
    phase: 'Failed',
    message: 'errors: 5% > 1%',
    finishedAt: 4200,
  };
  const instances = [ready('a', 1), ready('b', 1), ready('c', 2)];
  const cases: Array<[string, CanaryRollout, number, string, RegExp]> = [
    [
      'aborted',
      { ...d, analysis: failed, canaryWeight: 20 },
      4300,
      'aborted',
      /drill passed: .* after 3\.2s/,
    ],
    [
      'not aborted in time',
      { ...d, canaryWeight: 20 },
      61_001 + 1000,
      'notAborted',
      /drill failed: .* within 60s/,
    ],
  ];
  for (const [what, rollout, now, outcome, message] of cases) {
    const plan = reconcileDrill(spec, { ...s, rollout }, rollout, instances, now);
    assert.equal(plan.state.rollout, undefined, what);
    assert.equal(plan.state.stable, 1, what);
    assert.equal(plan.state.phase, 'Healthy', what);
    const last = plan.state.lastRollout;
    assert.ok(last?.strategy === 'canary' && last.kind === 'drill', what);
    assert.equal(last.drill?.outcome, outcome, what);
    assert.deepEqual(
      plan.actions,
      [{ type: 'drain', service: 'web', instance: 'c', reason: 'drill over' }],
      what,
    );
    assert.equal(plan.events.length, 1, what);
    assert.equal(plan.events[0].type, 'DrillFinished', what);
    assert.match(plan.events[0].message, message, what);
    const rev = plan.state.revisions.find((r) => r.number === 2);
    assert.equal(rev?.outcome, 'aborted', what);
    assert.equal(rev?.drill, true, what);
    assert.ok(rev?.analysis, what);
  }
});

test('commands on a drill: abort ends it (not aborted by analysis), promote, pause and retry are refused', () => {
  const s = started();
  const aborted = abort(s, 5000);
  assert.ok(aborted.ok);
  assert.equal(aborted.state.rollout, undefined);
  assert.equal(aborted.state.stable, 1);
  const last = aborted.state.lastRollout;
  assert.ok(last?.strategy === 'canary' && last.drill?.outcome === 'notAborted');
  assert.deepEqual(
    aborted.events.map((e) => e.type),
    ['DrillFinished'],
  );
  assert.equal(promote(spec, s, 5000, false).ok, false);
  assert.equal(setPaused(s, true).ok, false);
  const again = retry(spec, aborted.state, 6000);
  assert.ok(!again.ok && again.code === 'nothing_to_retry');
});

test('a drill resumed after a restart stays a canary under a rolling service (its copy never becomes stable)', () => {
  const s = started();
  const plan = resumeServices([{ name: 'web', strategy, version: 'v1', run }], new Map([['web', s]]), 9000);
  const resumed = plan.states.get('web');
  const d = runningDrill(resumed);
  assert.ok(d, JSON.stringify(resumed?.rollout));
  assert.equal(d.drill?.weight, 20);
  assert.equal(resumed?.stable, 1);
});
