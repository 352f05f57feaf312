import { type AnalysisState, analysisDue, type Measurements, stepAnalysis } from '../analysis/run.ts';
import type { AnalysisConfig } from '../config/types.ts';
import { findRevision, type Rollout, type ServiceSpec, type ServiceState } from './model.ts';

/** What to measure for a service's running analyses now. */
export interface MeasurementRequest {
  service: string;
  /** The revision judged. */
  revision: number;
  /** The revision it is compared with (same window); none after a blue-green switch. */
  baseline?: number;
  /** A canary at weight 0 that gets mirrored copies is judged on the copies. */
  mirror: boolean;
  /** Template variables of provider queries. */
  vars: { service: string; revision: string; version: string; role: 'canary' | 'preview' | 'stable' };
}

function due(analysis: AnalysisState | undefined, now: number): analysis is AnalysisState {
  return analysis !== undefined && analysis.phase === 'Running' && analysisDue(analysis, now);
}

/**
 * What to measure for analysis, by strategy and phase, or nothing when no analysis is due: a
 * canary is judged against the stable revision (on mirrored copies while it takes no traffic of
 * its own), a rolling update's new instances against the old revision's; a blue-green preview against the active side before the switch, and the new side on
 * its own after it. Pure.
 */
export function measurementDue(
  spec: ServiceSpec,
  state: ServiceState,
  now: number,
): MeasurementRequest | undefined {
  const rollout = state.rollout;
  if (!rollout || !spec.analysis) return undefined;
  const stepAnalysisState = rollout.strategy === 'canary' ? rollout.stepAnalysis : undefined;
  if (!due(rollout.analysis, now) && !due(stepAnalysisState, now)) return undefined;
  const afterSwitch = rollout.strategy === 'blueGreen' && rollout.analysisStage === 'post';
  const role = rollout.strategy === 'blueGreen' ? (afterSwitch ? 'stable' : 'preview') : 'canary';
  const mirror = rollout.strategy === 'canary' && rollout.canaryWeight === 0 && rollout.mirror !== undefined;
  const version = findRevision(state, rollout.to)?.version ?? '';
  return {
    service: spec.name,
    revision: rollout.to,
    baseline: afterSwitch ? undefined : state.stable,
    mirror,
    vars: { service: spec.name, revision: String(rollout.to), version, role },
  };
}

/**
 * A round of measurements fed into the analyses that were due when it was asked for (`askedAt`);
 * an analysis that started or ended meanwhile is left as it is. Pure.
 */
export function recordMeasurements(
  config: AnalysisConfig,
  rollout: Rollout,
  measurements: Measurements,
  askedAt: number,
  now: number,
): Rollout {
  const judge = (analysis: AnalysisState | undefined) =>
    due(analysis, askedAt) ? stepAnalysis(config, analysis, measurements, now) : analysis;
  if (rollout.strategy !== 'canary') {
    const judged = judge(rollout.analysis);
    return judged === rollout.analysis ? rollout : { ...rollout, analysis: judged };
  }
  return { ...rollout, analysis: judge(rollout.analysis), stepAnalysis: judge(rollout.stepAnalysis) };
}
