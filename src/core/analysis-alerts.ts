import type { AnalysisState } from '../analysis/run.ts';
import type { CoreEvent, Rollout } from './model.ts';

function analysesOf(rollout: Rollout): (AnalysisState | undefined)[] {
  return rollout.strategy === 'canary' ? [rollout.analysis, rollout.stepAnalysis] : [rollout.analysis];
}

/**
 * The AnalysisAlert events a change of the rollout's analyses brings: one per `onFail: alert`
 * metric that failed in `after` and had not in `before` (a new analysis of the next batch or
 * step starts with no alerts, so the same metric alerts again there). Pure.
 */
export function alertEvents(service: string, before: Rollout, after: Rollout): CoreEvent[] {
  const events: CoreEvent[] = [];
  const earlier = analysesOf(before);
  analysesOf(after).forEach((analysis, k) => {
    if (!analysis?.alerts) return;
    const prior = earlier[k];
    const known = prior && prior.startedAt === analysis.startedAt ? (prior.alerts ?? []) : [];
    for (const name of analysis.alerts) {
      if (known.includes(name)) continue;
      const reason = analysis.metrics[name]?.latest?.reason ?? 'failed';
      events.push({
        service,
        type: 'AnalysisAlert',
        revision: after.to,
        message: `analysis alert: ${name}: ${reason} (onFail: alert, the rollout goes on)`,
      });
    }
  });
  return events;
}
