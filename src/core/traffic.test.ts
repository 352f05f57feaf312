import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceSpec, ServiceState } from './model.ts';
import { deploy, initialServiceState } from './service.ts';
import { run } from './test-fixtures.ts';
import { routingView } from './traffic.ts';

const rolling: ServiceSpec = {
  name: 'web',
  replicas: 3,
  revisionHistoryLimit: 10,
  strategy: {
    type: 'rolling',
    maxSurge: 1,
    maxUnavailable: 0,
    minReadySeconds: 0,
    progressDeadlineMs: 60_000,
    hostsAtOnce: 1,
  },
  traffic: { rules: [] },
};
const canary: ServiceSpec = {
  ...rolling,
  strategy: {
    type: 'canary',
    canaryReplicas: 1,
    progressDeadlineMs: 60_000,
    mirrorMaxBodyBytes: 1024,
    steps: [{ setWeight: 10 }],
  },
};

test('long-lived connections go to the revision a rolling update moves to, and only during one', () => {
  const healthy: ServiceState = { ...initialServiceState('web', 'v1', run, 0), phase: 'Healthy' };
  const started = deploy(rolling, healthy, 'v2', run, 0);
  assert.ok(started.ok);
  const to = started.state.rollout!.to;
  // A rollback moves back: its target is the old revision.
  const back: ServiceState = {
    ...started.state,
    rollout: { ...started.state.rollout!, kind: 'rollback', from: to, to: healthy.stable },
  };
  const onCanary = deploy(canary, healthy, 'v2', run, 0);
  assert.ok(onCanary.ok);
  const table: Array<[string, ServiceSpec, ServiceState, number | undefined]> = [
    ['no rollout', rolling, healthy, undefined],
    ['a rolling deploy', rolling, started.state, to],
    ['a rolling rollback', rolling, back, healthy.stable],
    ['a canary (the traffic split decides)', canary, onCanary.state, undefined],
  ];
  for (const [what, spec, state, want] of table)
    assert.equal(routingView(spec, state).longLivedTo, want, what);
});
