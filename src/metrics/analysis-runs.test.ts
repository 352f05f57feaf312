import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnalysisRuns } from '../controller/analysis-runs.ts';
import type { AnalysisSummary } from '../core/model.ts';
import { analysisRunFamilies } from './analysis-runs.ts';
import { writeExposition } from './text.ts';

const summary = (verdict: AnalysisSummary['verdict'], ms?: number): AnalysisSummary => ({
  verdict,
  startedAt: 0,
  runs: 1,
  metrics: [],
  message: '',
  ...(ms === undefined ? {} : { timeToVerdictMs: ms }),
});

test('runs by service and verdict, and a time-to-verdict histogram of the timed ones', () => {
  const t = new AnalysisRuns();
  const empty = writeExposition(analysisRunFamilies(t.snapshot()));
  assert.match(empty, /# TYPE cutover_analysis_runs_total counter/);
  assert.match(empty, /# TYPE cutover_analysis_time_to_verdict_seconds histogram/);
  t.observe('web', summary('Failed', 1500));
  t.observe('web', summary('Failed', 4000));
  t.observe('web', summary('Unfinished'));
  t.observe('api', summary('Successful', 20_000), true);
  const text = writeExposition(analysisRunFamilies(t.snapshot()));
  const lines = text.split('\n');
  for (const want of [
    'cutover_analysis_runs_total{service="web",verdict="Failed",drill="false"} 2',
    'cutover_analysis_runs_total{service="web",verdict="Unfinished",drill="false"} 1',
    'cutover_analysis_runs_total{service="api",verdict="Successful",drill="true"} 1',
    'cutover_analysis_time_to_verdict_seconds_bucket{service="web",verdict="Failed",drill="false",le="1"} 0',
    'cutover_analysis_time_to_verdict_seconds_bucket{service="web",verdict="Failed",drill="false",le="2"} 1',
    'cutover_analysis_time_to_verdict_seconds_bucket{service="web",verdict="Failed",drill="false",le="5"} 2',
    'cutover_analysis_time_to_verdict_seconds_sum{service="web",verdict="Failed",drill="false"} 5.5',
    'cutover_analysis_time_to_verdict_seconds_count{service="web",verdict="Failed",drill="false"} 2',
    'cutover_analysis_time_to_verdict_seconds_count{service="api",verdict="Successful",drill="true"} 1',
  ]) {
    assert.ok(lines.includes(want), `missing ${want} in\n${text}`);
  }
  assert.ok(!text.includes('verdict="Unfinished",drill="false",le='), 'an unfinished analysis has no time');
});
