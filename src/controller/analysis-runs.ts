/**
 * The analyses of finished rollouts, counted since the controller started (a restart resets them,
 * as Prometheus expects of counters; the revision history keeps each summary longer).
 * src/metrics/analysis-runs.ts renders them.
 */
import type { AnalysisSummary } from '../core/model.ts';

/** Time-to-verdict buckets (seconds): a sequential test decides in seconds, a slow batch in minutes. */
export const VERDICT_BUCKETS_SECONDS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800] as const;

export interface AnalysisRunSeries {
  service: string;
  verdict: string;
  drill: boolean;
  runs: number;
  /** Non-cumulative counts per bound, then +Inf, of the runs that reached a verdict. */
  buckets: number[];
  sum: number;
  timed: number;
}

export class AnalysisRuns {
  private readonly series = new Map<string, AnalysisRunSeries>();
  observe(service: string, summary: AnalysisSummary, drill = false): void {
    const key = JSON.stringify([service, summary.verdict, drill]);
    let s = this.series.get(key);
    if (!s) {
      s = {
        service,
        verdict: summary.verdict,
        drill,
        runs: 0,
        buckets: VERDICT_BUCKETS_SECONDS.map(() => 0).concat(0),
        sum: 0,
        timed: 0,
      };
      this.series.set(key, s);
    }
    s.runs++;
    if (summary.timeToVerdictMs === undefined) return;
    const seconds = summary.timeToVerdictMs / 1000;
    const i = VERDICT_BUCKETS_SECONDS.findIndex((b) => seconds <= b);
    s.buckets[i === -1 ? VERDICT_BUCKETS_SECONDS.length : i]++;
    s.sum += seconds;
    s.timed++;
  }

  /** Every series, sorted by service, verdict, drill. */
  snapshot(): AnalysisRunSeries[] {
    return [...this.series.values()]
      .map((s) => ({ ...s, buckets: [...s.buckets] }))
      .sort((a, b) =>
        `${a.service} ${a.verdict} ${a.drill}`.localeCompare(`${b.service} ${b.verdict} ${b.drill}`),
      );
  }
}
