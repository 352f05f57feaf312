import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepAnalysis } from '../analysis/run.ts';
import type { CanaryStrategy } from '../config/types.ts';
import { promote } from './commands.ts';
import type { ServiceSpec, ServiceState } from './model.ts';
import { canaryRollout } from './rollout.ts';
import { deploy, initialServiceState, reconcileService } from './service.ts';
import { analysis, ready, run } from './test-fixtures.ts';
import { routingView } from './traffic.ts';

const strategy: CanaryStrategy = {
  type: 'canary',
  canaryReplicas: 1,
  progressDeadlineMs: 60_000,
  mirrorMaxBodyBytes: 1024,
  steps: [{ setWeight: 10 }, { analysis: { durationMs: 10_000 } }, { setWeight: 100 }],
};
const spec: ServiceSpec = {
  name: 'web',
  replicas: 2,
  revisionHistoryLimit: 10,
  strategy,
  traffic: { rules: [] },
  analysis,
};
const observed = [ready('a', 1), ready('b', 1), ready('c', 2)];

function canaryAt10(): ServiceState {
  let s = reconcileService(
    spec,
    initialServiceState('web', 'v1', run, 0),
    [ready('a', 1), ready('b', 1)],
    1,
  ).state;
  const d = deploy(spec, s, 'v2', run, 1_000);
  assert.ok(d.ok);
  s = reconcileService(spec, d.state, observed, 1_100).state;
  assert.equal(canaryRollout(s)?.canaryWeight, 10);
  assert.ok(canaryRollout(s)?.analysis, 'the background analysis starts with the rollout');
  assert.ok(canaryRollout(s)?.stepAnalysis, 'the analysis step started');
  return s;
}

/** Feeds one second of traffic (cumulative counters) into both analyses, as the controller does. */
function feed(
  s: ServiceState,
  t: number,
  canary: { requests: number; errors: number },
  stableReq: number,
): ServiceState {
  const r = canaryRollout(s)!;
  const m = { traffic: { canary, stable: { requests: stableReq, errors: 0 } } };
  return {
    ...s,
    rollout: {
      ...r,
      analysis: r.analysis && stepAnalysis(analysis, r.analysis, m, t),
      stepAnalysis: r.stepAnalysis && stepAnalysis(analysis, r.stepAnalysis, m, t),
    },
  };
}

test('a failing analysis aborts the canary: traffic back on stable, AnalysisFailed and RolloutFailed events', () => {
  let s = canaryAt10();
  let events: string[] = [];
  for (let sec = 1; sec <= 30 && s.rollout; sec++) {
    s = feed(s, 1_100 + sec * 1000, { requests: sec * 100, errors: sec * 5 }, sec * 900);
    const p = reconcileService(spec, s, observed, 1_100 + sec * 1000);
    s = p.state;
    events = events.concat(p.events.map((e) => e.type));
  }
  assert.equal(s.rollout, undefined, 'aborted');
  assert.equal(s.phase, 'Degraded');
  assert.match(s.lastRollout?.message ?? '', /analysis failed: errors/);
  assert.ok(events.includes('AnalysisFailed') && events.includes('RolloutFailed'), events.join(','));
  assert.equal(routingView(spec, s).roles.has(2), false);
  assert.ok((s.lastRollout?.finishedAt ?? 0) - 1_100 <= 6_000, 'decided within a few seconds of traffic');
});

test('a healthy canary passes its analysis step after the duration and is promoted', () => {
  let s = canaryAt10();
  for (let sec = 1; sec <= 15 && canaryRollout(s)?.stepIndex === 1; sec++) {
    s = feed(s, 1_100 + sec * 1000, { requests: sec * 100, errors: 0 }, sec * 900);
    s = reconcileService(spec, s, observed, 1_100 + sec * 1000).state;
  }
  assert.equal(canaryRollout(s)?.stepIndex, 2, 'analysis step passed');
  const done = reconcileService(spec, s, [...observed, ready('d', 2)], 20_000);
  assert.equal(done.state.stable, 2);
});

test('an inconclusive analysis step pauses for a human; promote accepts it', () => {
  let s = canaryAt10();
  // No traffic at all: fewer than minRequests by the end of the step -> Inconclusive
  for (let sec = 1; sec <= 12; sec++) {
    s = feed(s, 1_100 + sec * 1000, { requests: 0, errors: 0 }, 0);
    s = reconcileService(spec, s, observed, 1_100 + sec * 1000).state;
  }
  assert.equal(s.phase, 'Paused');
  assert.match(s.rollout?.waitingFor ?? '', /analysis inconclusive/);
  const p = promote(spec, s, 14_000, false);
  assert.ok(
    p.ok,
    JSON.stringify({ p, a: canaryRollout(s)?.stepAnalysis?.phase, b: canaryRollout(s)?.analysis?.phase }),
  );
  assert.equal(canaryRollout(p.state)?.stepIndex, 2);
});

test('a preRollout hook runs before any new instance starts; its failure aborts with the reason', () => {
  const hooked: ServiceSpec = {
    ...spec,
    analysis: undefined,
    hooks: { preRollout: { command: './migrate', timeoutMs: 1000 } },
  };
  let s = reconcileService(
    hooked,
    initialServiceState('web', 'v1', run, 0),
    [ready('a', 1), ready('b', 1)],
    1,
  ).state;
  const d = deploy(hooked, s, 'v2', run, 10);
  assert.ok(d.ok);
  const first = reconcileService(hooked, d.state, [ready('a', 1), ready('b', 1)], 20);
  assert.deepEqual(first.actions, [{ type: 'runHook', service: 'web', hook: 'preRollout', revision: 2 }]);
  s = {
    ...first.state,
    rollout: { ...first.state.rollout!, hooks: { preRollout: { status: 'running', at: 20 } } },
  };
  assert.deepEqual(
    reconcileService(hooked, s, [ready('a', 1), ready('b', 1)], 30).actions,
    [],
    'waits while it runs',
  );
  const failed = {
    ...s,
    rollout: {
      ...s.rollout!,
      hooks: { preRollout: { status: 'failed' as const, error: 'exit code 3', at: 40 } },
    },
  };
  const out = reconcileService(hooked, failed, [ready('a', 1), ready('b', 1)], 50);
  assert.equal(out.state.rollout, undefined);
  assert.match(out.state.message ?? '', /preRollout hook failed: exit code 3/);
  const okState = {
    ...s,
    rollout: { ...s.rollout!, hooks: { preRollout: { status: 'ok' as const, at: 40 } } },
  };
  const go = reconcileService(hooked, okState, [ready('a', 1), ready('b', 1)], 50);
  assert.deepEqual(go.actions, [{ type: 'start', service: 'web', revision: 2, count: 1 }]);
});
