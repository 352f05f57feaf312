import { type AnalysisState, finishAnalysis } from '../analysis/run.ts';
import type { AnalysisConfig } from '../config/types.ts';
import {
  type AnalysisSummary,
  type AnalysisVerdict,
  type CoreEvent,
  findRevision,
  type MetricSummary,
  type Revision,
  type Rollout,
  type ServiceState,
} from './model.ts';

function summarizeState(state: AnalysisState, earlier: AnalysisSummary | undefined): AnalysisSummary {
  const verdict: AnalysisVerdict = state.phase === 'Running' ? 'Unfinished' : state.phase;
  const startedAt = earlier?.startedAt ?? state.startedAt;
  const metrics: MetricSummary[] = Object.entries(state.metrics).map(([name, m]) => {
    const out: MetricSummary = {
      name,
      status: m.latest?.status ?? 'Pending',
      samples: m.latest?.samples ?? m.measurements,
    };
    if (m.latest?.value !== undefined) out.value = m.latest.value;
    if (state.alerts?.includes(name)) out.alerted = true;
    return out;
  });
  const summary: AnalysisSummary = {
    verdict,
    startedAt,
    runs: (earlier?.runs ?? 0) + 1,
    metrics,
    message: state.message,
  };
  if (state.finishedAt !== undefined && verdict !== 'Unfinished') {
    summary.timeToVerdictMs = state.finishedAt - startedAt;
  }
  return summary;
}

/** The analysis that judged the rollout as a whole (a canary's steps judge a part of it). */
function mainAnalysis(rollout: Rollout): AnalysisState | undefined {
  if (rollout.strategy === 'canary') return rollout.analysis ?? rollout.stepAnalysis;
  return rollout.analysis;
}

/**
 * The summary of `rollout`'s analysis at its end, or undefined when it had none. `config` given
 * (the rollout succeeded): a still-running analysis is finished on what it saw. Pure.
 */
export function summarizeRollout(
  rollout: Rollout,
  now: number,
  config?: AnalysisConfig,
): AnalysisSummary | undefined {
  const earlier = rollout.strategy === 'rolling' ? rollout.judged : undefined;
  let state = mainAnalysis(rollout);
  if (state === undefined) return earlier;
  if (config && state.phase === 'Running') state = finishAnalysis(config, state, now);
  return summarizeState(state, earlier);
}

/** A rolling batch that passed (every metric Pass): its analysis, finished, folded into the earlier batches. */
export function foldBatch(
  config: AnalysisConfig,
  earlier: AnalysisSummary | undefined,
  state: AnalysisState,
  now: number,
): AnalysisSummary {
  return summarizeState(finishAnalysis(config, state, now), earlier);
}

/** `revisions` with the rollout's analysis summary on its revision (a rollback keeps the one there). */
export function withSummary(
  revisions: Revision[],
  rollout: Rollout,
  now: number,
  config?: AnalysisConfig,
): Revision[] {
  if (rollout.kind === 'rollback') return revisions;
  const summary = summarizeRollout(rollout, now, config);
  if (!summary) return revisions;
  return revisions.map((r) => (r.number === rollout.to ? { ...r, analysis: summary } : r));
}

/**
 * The analysis summary a rollout's end event reports, once: the event's revision is the rollout
 * that just finished (a rollback returning to a revision reports nothing; its summary was counted).
 */
export function finishedSummary(
  state: ServiceState | undefined,
  event: CoreEvent,
): { summary: AnalysisSummary; drill: boolean } | undefined {
  const last = state?.lastRollout;
  if (!state || !last || last.kind === 'rollback' || last.to !== event.revision) return undefined;
  const summary = findRevision(state, last.to)?.analysis;
  return summary ? { summary, drill: last.kind === 'drill' } : undefined;
}
