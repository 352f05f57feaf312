/** `/metrics` families for the analyses of finished rollouts: how often and how fast releases are taken back. */
import { type AnalysisRunSeries, VERDICT_BUCKETS_SECONDS } from '../controller/analysis-runs.ts';
import { families, histogramSamples, type MetricFamily } from './text.ts';

const FAMILIES = {
  runs: [
    'cutover_analysis_runs_total',
    'counter',
    'Finished rollouts with an analysis, by verdict (Failed: taken back by analysis); drill="true" for rollback drills',
  ],
  verdict: [
    'cutover_analysis_time_to_verdict_seconds',
    'histogram',
    'From the start of a rollout analysis to its verdict',
  ],
} as const;

export function analysisRunFamilies(series: readonly AnalysisRunSeries[]): MetricFamily[] {
  const f = families(FAMILIES);
  for (const s of series) {
    const labels = { service: s.service, verdict: s.verdict, drill: String(s.drill) };
    f.runs.samples.push({ labels, value: s.runs });
    if (s.timed === 0) continue;
    f.verdict.samples.push(
      ...histogramSamples(VERDICT_BUCKETS_SECONDS, {
        labels,
        buckets: s.buckets,
        sum: s.sum,
        count: s.timed,
      }),
    );
  }
  return Object.values(f);
}
