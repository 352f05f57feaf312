/** The analysis engine's public API (see docs/analysis.md). */

export {
  ANALYSIS_DEFAULTS,
  type AnalysisResult,
  validateAnalysis,
  validateAnalysisAt,
} from '../config/analysis.ts';
export type { LatencyHistogram, RevisionCounts, TrafficSample } from './counts.ts';
export type { EngineOptions, MetricResult, MetricStatus } from './engine.ts';
export { revisionCounts, trafficSample } from './gateway.ts';
export {
  type AnalysisPhase,
  type AnalysisState,
  allPassing,
  analysisDue,
  finishAnalysis,
  latestResults,
  type Measurements,
  type MetricRunState,
  type ProviderOutcome,
  startAnalysis,
  stepAnalysis,
} from './run.ts';
export { TEMPLATE_VARS, type TemplateVars } from './template.ts';
