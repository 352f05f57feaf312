import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnalysisState, type Measurements, startAnalysis, stepAnalysis } from '../analysis/run.ts';
import { finishedSummary, foldBatch, summarizeRollout } from './analysis-summary.ts';
import type { CoreEvent, RollingRollout, ServiceSpec, ServiceState } from './model.ts';
import { abortRollout, failRollout, succeedRollout } from './outcome.ts';
import { analysis, rollingDeploy, run } from './test-fixtures.ts';

/** An analysis fed `ticks` ticks of 100 canary requests with `errors` errors each, one per second from `at`. */
function judged(ticks: number, errors: number, at = 10_000): AnalysisState {
  let s = startAnalysis(analysis, at);
  for (let k = 0; k <= ticks; k++) {
    const m: Measurements = {
      traffic: {
        canary: { requests: 100 * k, errors: errors * k },
        stable: { requests: 100 * k, errors: 0 },
      },
    };
    s = stepAnalysis(analysis, s, m, at + k * 1000);
  }
  return s;
}
const rollout = rollingDeploy;
const spec: ServiceSpec = {
  name: 'web',
  replicas: 2,
  revisionHistoryLimit: 10,
  analysis,
  strategy: {
    type: 'rolling',
    maxSurge: 1,
    maxUnavailable: 0,
    minReadySeconds: 0,
    progressDeadlineMs: 60_000,
    hostsAtOnce: 1,
  },
};
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

test('summaries: verdict, runs, time to verdict and metrics of each way a rollout ends', () => {
  const bad = judged(20, 10);
  assert.equal(bad.phase, 'Failed');
  const good = judged(20, 0);
  const batch = foldBatch(analysis, undefined, good, 31_000);
  assert.equal(batch.verdict, 'Successful');
  const cases: Array<[string, (r: RollingRollout) => ServiceState, RollingRollout, string, number, boolean]> =
    [
      [
        'failed by analysis: rolled back',
        (r) => failRollout(state(r), r, 40_000, 'bad', { byAnalysis: true, rollBack: true }).state,
        rollout({ analysis: bad }),
        'Failed',
        1,
        true,
      ],
      [
        'aborted while judging',
        (r) => abortRollout(state(r), 40_000, 'operator', false).state,
        rollout({ analysis: good }),
        'Unfinished',
        1,
        false,
      ],
      [
        'succeeded after a judged batch (the last batch is not judged)',
        (r) => succeedRollout(spec, state(r), r, [], 40_000, 'done').state,
        rollout({ judged: batch }),
        batch.verdict,
        1,
        batch.timeToVerdictMs !== undefined,
      ],
      [
        'succeeded with a running analysis: finished on what it saw',
        (r) => succeedRollout(spec, state(r), r, [], 40_000, 'done').state,
        rollout({ judged: batch, analysis: judged(3, 0, 35_000) }),
        'Successful',
        2,
        true,
      ],
    ];
  for (const [what, end, r, verdict, runs, timed] of cases) {
    const after = end(r);
    const summary = after.revisions.find((x) => x.number === 2)?.analysis;
    assert.ok(summary, what);
    assert.equal(summary.verdict, verdict, what);
    assert.equal(summary.runs, runs, what);
    assert.equal(summary.timeToVerdictMs !== undefined, timed, what);
    assert.ok(summary.metrics.length > 0, what);
    assert.equal(summary.metrics[0].name, 'errors', what);
    assert.ok(summary.metrics[0].samples > 0, what);
    assert.equal(after.revisions.find((x) => x.number === 1)?.analysis, undefined, what);
  }
  const failed = failRollout(state(rollout({ analysis: bad })), rollout({ analysis: bad }), 40_000, 'bad', {
    byAnalysis: true,
    rollBack: true,
  }).state;
  assert.equal(failed.revisions[1].analysis?.timeToVerdictMs, (bad.finishedAt ?? 0) - 10_000);
});

test('no analysis, no summary; a rollback keeps the summary of the revision it returns to', () => {
  assert.equal(summarizeRollout(rollout({}), 0), undefined);
  const s = state(rollout({ kind: 'rollback', from: 2, to: 1, analysis: judged(3, 0) }));
  const after = succeedRollout(spec, s, s.rollout!, [], 1, 'x').state;
  assert.equal(after.revisions[0].analysis, undefined);
});

test('finishedSummary: reported once, for the rollout that finished, never for a rollback', () => {
  const bad = judged(20, 10);
  const r = rollout({ analysis: bad });
  const failed = failRollout(state(r), r, 40_000, 'bad', { byAnalysis: true, rollBack: true });
  const ended = (type: CoreEvent['type'], revision: number): CoreEvent => ({
    service: 'web',
    type,
    revision,
    message: '',
  });
  assert.equal(finishedSummary(failed.state, ended('RolloutFailed', 2))?.summary.verdict, 'Failed');
  const back = succeedRollout(spec, failed.state, failed.state.rollout!, [], 50_000, 'x').state;
  assert.equal(finishedSummary(back, ended('RolloutSucceeded', 1)), undefined);
  assert.equal(finishedSummary(undefined, ended('RolloutFailed', 2)), undefined);
});
