import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceState, StrategyType } from './model.ts';
import { type ResumeSpec, resumeServices } from './resume.ts';
import { fromStored } from './rollout.ts';
import { deploy, initialServiceState } from './service.ts';
import { run } from './test-fixtures.ts';

const spec = (name: string, type: StrategyType): ResumeSpec =>
  ({ name, version: 'v1', run, strategy: { type } }) as ResumeSpec;

/** Rows as the code before tagged rollouts wrote them (services.state of state.db). */
const CANARY_ROW =
  '{"name":"web","revisions":[{"number":1,"version":"v1","run":{"command":"x","cwd":"/","env":{}},"createdAt":0,"outcome":"stable"},{"number":2,"version":"v2","run":{"command":"x","cwd":"/","env":{}},"createdAt":1000,"outcome":"progressing"}],"stable":1,"phase":"Paused","message":"canary revision 2 at 10%: pause: waiting for promote","rollout":{"stepIndex":1,"stepStartedAt":2000,"canaryWeight":10,"kind":"deploy","from":1,"to":2,"phase":"Progressing","startedAt":1000,"lastProgressAt":2000,"progressKey":"1/1","message":"rolling out revision 2 (v2)","waitingFor":"pause: waiting for promote"}}';
const BLUE_GREEN_ROW =
  '{"name":"web","revisions":[{"number":1,"version":"v1","run":{"command":"x","cwd":"/","env":{}},"createdAt":0,"outcome":"stable"},{"number":2,"version":"v2","run":{"command":"x","cwd":"/","env":{}},"createdAt":1000,"outcome":"progressing"}],"stable":1,"phase":"Paused","message":"preview revision 2: preview ready: waiting for promote","rollout":{"kind":"deploy","from":1,"to":2,"phase":"Progressing","startedAt":1000,"lastProgressAt":2000,"progressKey":"1","message":"rolling out revision 2 (v2)","previewReadyAt":2000,"waitingFor":"preview ready: waiting for promote"}}';
const ROLLING_DONE_ROW =
  '{"name":"web","revisions":[{"number":1,"version":"v1","run":{"command":"x","cwd":"/","env":{}},"createdAt":0,"outcome":"superseded"},{"number":2,"version":"v2","run":{"command":"x","cwd":"/","env":{}},"createdAt":1000,"outcome":"stable"}],"stable":2,"phase":"Healthy","lastRollout":{"kind":"deploy","from":1,"to":2,"phase":"Succeeded","startedAt":1000,"lastProgressAt":3000,"progressKey":"2/2/0/0","message":"rolling out revision 2 (v2)","finishedAt":4000}}';

test('rows written before rollouts were tagged load as tagged rollouts, every field kept (table)', () => {
  const rows: Array<{
    name: string;
    row: string;
    strategy: StrategyType;
    rollout?: object;
    lastRollout?: object;
  }> = [
    {
      name: 'canary mid-rollout',
      row: CANARY_ROW,
      strategy: 'canary',
      rollout: {
        strategy: 'canary',
        stepIndex: 1,
        stepStartedAt: 2000,
        canaryWeight: 10,
        progressKey: '1/1',
      },
    },
    {
      name: 'blue-green waiting for promote',
      row: BLUE_GREEN_ROW,
      strategy: 'blueGreen',
      rollout: {
        strategy: 'blueGreen',
        previewReadyAt: 2000,
        waitingFor: 'preview ready: waiting for promote',
      },
    },
    {
      name: 'a canary row while the config now says rolling: told by its fields',
      row: CANARY_ROW,
      strategy: 'rolling',
      rollout: { strategy: 'canary', canaryWeight: 10 },
    },
    {
      name: 'finished rolling update',
      row: ROLLING_DONE_ROW,
      strategy: 'rolling',
      lastRollout: { strategy: 'rolling', phase: 'Succeeded', finishedAt: 4000 },
    },
  ];
  for (const row of rows) {
    const stored = JSON.parse(row.row) as ServiceState;
    const loaded = fromStored(stored, row.strategy);
    for (const [field, want] of [
      ['rollout', row.rollout],
      ['lastRollout', row.lastRollout],
    ] as const) {
      if (!want) continue;
      const got = loaded[field] as unknown as Record<string, unknown>;
      const before = stored[field] as unknown as Record<string, unknown>;
      for (const [key, value] of Object.entries(want))
        assert.deepEqual(got[key], value, `${row.name}: ${key}`);
      for (const [key, value] of Object.entries(before))
        assert.deepEqual(got[key], value, `${row.name}: kept ${key}`);
    }
    assert.deepEqual(loaded.revisions, stored.revisions, row.name);
    assert.equal(fromStored(loaded, row.strategy), loaded, `${row.name}: a tagged row is taken as it is`);
  }
});

test('starting up: new services get revision 1, rollouts resume with fresh progress and re-run hooks (table)', () => {
  const stable = initialServiceState('api', 'v1', run, 0);
  const canarySpec = {
    name: 'web',
    replicas: 2,
    revisionHistoryLimit: 10,
    strategy: { type: 'canary', steps: [{ pause: {} }], canaryReplicas: 1, progressDeadlineMs: 60_000 },
    hooks: {
      preRollout: { command: 'true', timeoutMs: 1000 },
      prePromotion: { command: 'true', timeoutMs: 1000 },
    },
  } as unknown as Parameters<typeof deploy>[0];
  const deployed = deploy(canarySpec, initialServiceState('web', 'v1', run, 0), 'v2', run, 100);
  assert.ok(deployed.ok);
  const mid: ServiceState = {
    ...deployed.state,
    rollout: deployed.state.rollout && {
      ...deployed.state.rollout,
      hooks: { preRollout: { status: 'ok', at: 150 }, prePromotion: { status: 'running', at: 200 } },
    },
  };
  const stored = new Map<string, ServiceState>([
    ['web', mid],
    ['api', stable],
    ['gone', initialServiceState('gone', 'v1', run, 0)],
  ]);
  const plan = resumeServices(
    [spec('web', 'canary'), spec('api', 'rolling'), spec('new', 'blueGreen')],
    stored,
    5_000,
  );
  assert.deepEqual([...plan.states.keys()], ['web', 'api', 'new'], 'configured services only');
  assert.equal(plan.states.get('api'), stable, 'a service at rest is taken as stored');
  const fresh = plan.states.get('new');
  assert.equal(fresh?.stable, 1);
  assert.equal(fresh?.revisions[0].outcome, 'stable');
  const resumed = plan.states.get('web')?.rollout;
  assert.equal(resumed?.lastProgressAt, 5_000, 'downtime is not lack of progress');
  assert.deepEqual(
    resumed?.hooks,
    { preRollout: { status: 'ok', at: 150 } },
    'a hook that was running runs again',
  );
  assert.deepEqual(
    plan.changed.map((s) => s.name),
    ['web', 'new'],
  );
  assert.deepEqual(
    plan.events.map((e) => `${e.service} ${e.type} ${e.revision}`),
    ['new RolloutStarted 1'],
  );
  assert.deepEqual(plan.resumed, [{ service: 'web', revision: 2 }]);
});
