import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnalysisState, startAnalysis } from '../analysis/run.ts';
import type { StrategyConfig } from '../config/types.ts';
import { measurementDue, recordMeasurements } from './measure.ts';
import type { Rollout, RolloutCommon, ServiceSpec, ServiceState } from './model.ts';
import { initialServiceState } from './service.ts';
import { analysis, run } from './test-fixtures.ts';

const canary: StrategyConfig = {
  type: 'canary',
  canaryReplicas: 1,
  progressDeadlineMs: 60_000,
  mirrorMaxBodyBytes: 1024,
  steps: [{ setWeight: 10 }],
};
const blueGreen: StrategyConfig = {
  type: 'blueGreen',
  previewReplicas: 1,
  autoPromote: false,
  autoPromoteAfterMs: 0,
  scaleDownDelayMs: 30_000,
  progressDeadlineMs: 60_000,
};
const rolling: StrategyConfig = {
  type: 'rolling',
  maxSurge: 1,
  maxUnavailable: 0,
  minReadySeconds: 0,
  progressDeadlineMs: 60_000,
  hostsAtOnce: 1,
};

const NOW = 10_000;
const running = startAnalysis(analysis, 0);
const notDue: AnalysisState = { ...running, nextAt: NOW + 1 };
const common: RolloutCommon = {
  kind: 'deploy',
  from: 1,
  to: 2,
  phase: 'Progressing',
  startedAt: 0,
  lastProgressAt: 0,
  progressKey: '',
};
const canaryAt = (canaryWeight: number, extra: object = {}): Rollout => ({
  ...common,
  strategy: 'canary',
  stepIndex: 0,
  stepStartedAt: 0,
  canaryWeight,
  analysis: running,
  ...extra,
});

function world(
  strategy: StrategyConfig,
  rollout: Rollout,
  withAnalysis = true,
): { spec: ServiceSpec; state: ServiceState } {
  const spec: ServiceSpec = { name: 'web', replicas: 2, revisionHistoryLimit: 10, strategy };
  if (withAnalysis) spec.analysis = analysis;
  const state = initialServiceState('web', 'v1', run, 0);
  const revisions = [
    ...state.revisions,
    { number: 2, version: 'v2', run, createdAt: 0, outcome: 'progressing' as const },
  ];
  return { spec, state: { ...state, revisions, rollout } };
}

test('what is measured, by strategy and phase (table)', () => {
  const rows: Array<{
    name: string;
    strategy: StrategyConfig;
    rollout: Rollout;
    analysis?: boolean;
    want?: object;
  }> = [
    {
      name: 'canary with traffic: against stable',
      strategy: canary,
      rollout: canaryAt(10),
      want: { revision: 2, baseline: 1, mirror: false, role: 'canary' },
    },
    {
      name: 'canary at 0% with mirroring: judged on the copies',
      strategy: canary,
      rollout: canaryAt(0, { mirror: { percent: 20 } }),
      want: { revision: 2, baseline: 1, mirror: true, role: 'canary' },
    },
    {
      name: 'canary at 0% without mirroring',
      strategy: canary,
      rollout: canaryAt(0),
      want: { revision: 2, baseline: 1, mirror: false, role: 'canary' },
    },
    {
      name: 'canary: only the step analysis is due',
      strategy: canary,
      rollout: canaryAt(10, { analysis: notDue, stepAnalysis: running }),
      want: { revision: 2, baseline: 1, mirror: false, role: 'canary' },
    },
    {
      name: 'blue-green before the switch: the preview against the active side',
      strategy: blueGreen,
      rollout: { ...common, strategy: 'blueGreen', analysis: running, analysisStage: 'pre' },
      want: { revision: 2, baseline: 1, mirror: false, role: 'preview' },
    },
    {
      name: 'blue-green after the switch: the new side on its own',
      strategy: blueGreen,
      rollout: { ...common, strategy: 'blueGreen', analysis: running, analysisStage: 'post', switchedAt: 5 },
      want: { revision: 2, baseline: undefined, mirror: false, role: 'stable' },
    },
    { name: 'nothing due yet', strategy: canary, rollout: canaryAt(10, { analysis: notDue }) },
    {
      name: 'analysis ended',
      strategy: canary,
      rollout: canaryAt(10, { analysis: { ...running, phase: 'Successful' } }),
    },
    { name: 'no analysis configured', strategy: canary, rollout: canaryAt(10), analysis: false },
    {
      name: 'rolling update, no analysis yet',
      strategy: rolling,
      rollout: { ...common, strategy: 'rolling' },
    },
    {
      name: 'rolling update: new instances against the old revision',
      strategy: rolling,
      rollout: { ...common, strategy: 'rolling', analysis: running },
      want: { revision: 2, baseline: 1, mirror: false, role: 'canary' },
    },
  ];
  for (const row of rows) {
    const { spec, state } = world(row.strategy, row.rollout, row.analysis ?? true);
    const got = measurementDue(spec, state, NOW);
    if (!row.want) {
      assert.equal(got, undefined, row.name);
      continue;
    }
    assert.ok(got, row.name);
    const { revision, baseline, mirror } = got;
    assert.deepEqual({ revision, baseline, mirror, role: got.vars.role }, row.want, row.name);
    assert.deepEqual(
      got.vars,
      { service: 'web', revision: '2', version: 'v2', role: got.vars.role },
      row.name,
    );
  }
});

test('measurements go only into the analyses that were due when they were asked for', () => {
  const measurements = {
    traffic: { canary: { requests: 100, errors: 0 }, stable: { requests: 900, errors: 0 } },
  };
  const rollout = canaryAt(10, { analysis: running, stepAnalysis: notDue });
  const next = recordMeasurements(analysis, rollout, measurements, NOW, NOW);
  assert.ok(next.strategy === 'canary');
  assert.notEqual(next.analysis, running, 'the due analysis took the round');
  assert.equal(next.analysis?.rounds, 1);
  assert.equal(next.stepAnalysis, notDue, 'the one not due is untouched');
  const plain: Rollout = { ...common, strategy: 'rolling' };
  assert.equal(recordMeasurements(analysis, plain, measurements, NOW, NOW), plain);
});
