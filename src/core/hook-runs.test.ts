import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HooksConfig, StrategyConfig } from '../config/types.ts';
import { hookFinished, hookStarted, hookWanted, postPromotionEvent } from './hook-runs.ts';
import type { Action, CoreEvent, ObservedInstance, ServiceSpec, ServiceState } from './model.ts';
import { deploy, initialServiceState, reconcileService } from './service.ts';
import { run } from './test-fixtures.ts';

const hook = { command: 'true', timeoutMs: 1000 };
const strategies: Record<string, StrategyConfig> = {
  rolling: {
    type: 'rolling',
    maxSurge: 1,
    maxUnavailable: 0,
    minReadySeconds: 0,
    progressDeadlineMs: 10_000,
    hostsAtOnce: 1,
  },
  blueGreen: {
    type: 'blueGreen',
    previewReplicas: 2,
    autoPromote: true,
    autoPromoteAfterMs: 0,
    scaleDownDelayMs: 1_000,
    preview: { header: 'x-cutover-preview', value: 'true' },
    progressDeadlineMs: 10_000,
  },
  canary: {
    type: 'canary',
    canaryReplicas: 1,
    progressDeadlineMs: 10_000,
    mirrorMaxBodyBytes: 1024,
    steps: [{ setWeight: 50 }],
  },
};

/** Drives a service like the controller: started instances are ready next tick, drained ones vanish. */
function drive(spec: ServiceSpec, state: ServiceState, ticks: number, healthy = (_revision: number) => true) {
  let instances: ObservedInstance[] = [
    { id: 'a', revision: 1, state: 'ready', readySince: 0, restarts: 0 },
    { id: 'b', revision: 1, state: 'ready', readySince: 0, restarts: 0 },
  ];
  let now = 1_000;
  let seq = 0;
  const log: Array<{ events: CoreEvent[]; actions: Action[] }> = [];
  for (let tick = 0; tick < ticks; tick++) {
    now += 500;
    instances = instances
      .filter((i) => i.state !== 'draining')
      .map((i) =>
        i.state === 'starting' && healthy(i.revision) ? { ...i, state: 'ready', readySince: now } : i,
      );
    const plan = reconcileService(spec, state, instances, now);
    state = plan.state;
    log.push({ events: plan.events, actions: plan.actions });
    for (const action of plan.actions) {
      if (action.type === 'start') {
        for (let k = 0; k < action.count; k++) {
          instances.push({ id: `n${seq++}`, revision: action.revision, state: 'starting', restarts: 0 });
        }
      } else if (action.type === 'drain') {
        instances = instances.map((i) => (i.id === action.instance ? { ...i, state: 'draining' } : i));
      }
    }
  }
  return { state, log };
}

const postPromotionRuns = (log: Array<{ events: CoreEvent[]; actions: Action[] }>) =>
  log.flatMap(({ events, actions }) =>
    actions
      .filter((a) => a.type === 'runHook' && a.hook === 'postPromotion')
      .map((a) => ({
        revision: a.type === 'runHook' ? a.revision : 0,
        succeeded: events.some((e) => e.type === 'RolloutSucceeded'),
      })),
  );

test('postPromotion is a core action of every strategy, asked once with the success (table)', () => {
  for (const [name, strategy] of Object.entries(strategies)) {
    for (const hooks of [{ postPromotion: hook }, undefined] as Array<HooksConfig | undefined>) {
      const spec: ServiceSpec = { name: 'web', replicas: 2, revisionHistoryLimit: 10, strategy, hooks };
      const deployed = deploy(spec, initialServiceState('web', 'v1', run, 0), 'v2', run, 1_000);
      assert.ok(deployed.ok);
      const { state, log } = drive(spec, deployed.state, 30);
      assert.equal(state.stable, 2, `${name}: the rollout succeeded`);
      const label = `${name} ${hooks ? 'with' : 'without'} a postPromotion hook`;
      assert.deepEqual(postPromotionRuns(log), hooks ? [{ revision: 2, succeeded: true }] : [], label);
    }
  }
});

test('a rolling rollback that completes asks for postPromotion too, as its success did before', () => {
  const spec: ServiceSpec = {
    name: 'web',
    replicas: 2,
    revisionHistoryLimit: 10,
    strategy: strategies.rolling,
    hooks: { postPromotion: hook },
  };
  const deployed = deploy(spec, initialServiceState('web', 'v1', run, 0), 'v2', run, 1_000);
  assert.ok(deployed.ok);
  const { state, log } = drive(spec, deployed.state, 40, (revision) => revision !== 2);
  assert.equal(state.phase, 'Degraded');
  assert.equal(state.lastRollout?.kind, 'rollback');
  assert.deepEqual(postPromotionRuns(log), [{ revision: 1, succeeded: true }]);
});

test('gating hook runs are recorded in the rollout; their outcome is an event', () => {
  const spec: ServiceSpec = {
    name: 'web',
    replicas: 2,
    revisionHistoryLimit: 10,
    strategy: strategies.canary,
    hooks: { prePromotion: hook },
  };
  const deployed = deploy(spec, initialServiceState('web', 'v1', run, 0), 'v2', run, 1_000);
  assert.ok(deployed.ok);
  const rollout = deployed.state.rollout;
  assert.ok(rollout);
  assert.equal(hookWanted(rollout, 'prePromotion', 2), true);
  assert.equal(hookWanted(rollout, 'prePromotion', 3), false, 'for another revision: not this rollout');
  const started = hookStarted(rollout, 'prePromotion', 5);
  assert.deepEqual(started.hooks, { prePromotion: { status: 'running', at: 5 } });
  assert.equal(hookWanted(started, 'prePromotion', 2), false, 'asked once');
  const rows = [
    {
      outcome: { ok: true, output: '', durationMs: 12 },
      status: 'ok',
      type: 'HookSucceeded',
      message: 'prePromotion hook succeeded (12 ms)',
    },
    {
      outcome: { ok: false, output: 'boom', durationMs: 3, error: 'exit 1' },
      status: 'failed',
      type: 'HookFailed',
      message: 'prePromotion hook failed: exit 1 (3 ms)\nboom',
    },
  ];
  for (const row of rows) {
    const done = hookFinished('web', started, 'prePromotion', row.outcome, 9);
    assert.equal(done.rollout.hooks?.prePromotion?.status, row.status);
    assert.equal(done.rollout.hooks?.prePromotion?.at, 9);
    assert.deepEqual(done.events, [{ service: 'web', type: row.type, revision: 2, message: row.message }]);
  }
  assert.deepEqual(postPromotionEvent('web', 2, { ok: false, output: '', durationMs: 1, error: 'x' }), {
    service: 'web',
    type: 'HookFailed',
    revision: 2,
    message: 'postPromotion hook failed: x',
  });
});
