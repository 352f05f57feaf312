/**
 * `AnalysisRun`: the state machine of one analysis, pure: `stepAnalysis(config, state, measurements, now)`
 * returns the next state. The caller (the controller) measures when `analysisDue` says so
 * (`collectMeasurements` in measure.ts does the impure part), feeds the results in, and calls
 * `finishAnalysis` when the step the analysis guards has run its course. State is plain JSON.
 *
 * Rules (Argo Rollouts' names and defaults, sequential gateway metrics on top):
 *  - Nothing is measured before `initialDelay`; the first traffic sample after it opens the window.
 *  - A gateway metric (errorRate, latency, ...) that Fails is final: its sequential test already bounds
 *    false alarms, so `failureLimit` does not apply to it. Provider metrics: more than `failureLimit`
 *    failed measurements -> Failed.
 *  - More than `consecutiveErrorLimit` errors in a row for a metric (provider unreachable, bad answer,
 *    no gateway stats) -> Error. An error never counts as a pass.
 *  - More than `inconclusiveLimit` inconclusive measurements -> Inconclusive (pause for a human).
 *  - A metric with `onFail: alert` that fails does not end the analysis: its name goes to `alerts`
 *    (once; the caller notifies) and it no longer holds a promotion.
 *  - `finishAnalysis`: gateway metrics without a Fail pass, or are Inconclusive when they saw fewer
 *    than `minRequests` requests; a provider metric never measured successfully is Inconclusive.
 */
import type { AnalysisConfig, AnalysisMetricConfig } from '../config/types.ts';
import { addCounts, diffCounts, type RevisionCounts, type TrafficSample, ZERO } from './counts.ts';
import {
  type EngineOptions,
  type GatewayMetric,
  isGatewayMetric,
  judgeMetricTest,
  type MetricResult,
  type MetricTest,
  newMetricTest,
  updateMetricTest,
} from './engine.ts';
import { judgeValue } from './judge.ts';

export type AnalysisPhase = 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

/** What one provider query produced. */
export type ProviderOutcome = { ok: true; value: unknown } | { ok: false; error: string };

/** One round of measurements. Metrics missing from it count as errors. */
export interface Measurements {
  /** Cumulative gateway counters (needed when the analysis has gateway metrics). */
  traffic?: TrafficSample | { error: string };
  /** By metric name: provider results. */
  values?: Record<string, ProviderOutcome>;
}

export interface MetricRunState {
  latest?: MetricResult;
  measurements: number;
  failures: number;
  inconclusives: number;
  errors: number;
  consecutiveErrors: number;
  /** Provider measurements that passed. */
  passes: number;
  /** Gateway metrics: the sequential test. */
  test?: MetricTest;
}

export interface AnalysisState {
  phase: AnalysisPhase;
  /** Why the phase is what it is (for status). */
  message: string;
  startedAt: number;
  /** When the next measurement is due. */
  nextAt: number;
  finishedAt?: number;
  /** Measurement rounds taken. */
  rounds: number;
  /** The last cumulative traffic sample (the window's running origin). */
  prev?: TrafficSample;
  /** Traffic increments summed since the window opened. */
  window: { canary: RevisionCounts; stable?: RevisionCounts };
  /** Times the gateway counters went down (worker restart): that tick's traffic was skipped. */
  counterResets: number;
  /** By metric name, in config order. */
  metrics: Record<string, MetricRunState>;
  /** `onFail: alert` metrics that failed, in the order they failed (each once). */
  alerts?: string[];
}

/** True for a metric whose Failed verdict only alerts. */
export function alertsOnly(m: AnalysisMetricConfig): boolean {
  return m.onFail === 'alert';
}

/** True when the metric's verdict so far is Failed (a gateway Fail, or provider failures past the limit). */
function metricFailed(cfg: AnalysisConfig, m: AnalysisMetricConfig, ms: MetricRunState): boolean {
  return isGatewayMetric(m) ? ms.latest?.status === 'Fail' : ms.failures > cfg.failureLimit;
}

/** Miss probability at the smallest alternative (the "strong evidence of health" boundary). */
export const BETA = 0.01;

/** The per-metric statistical settings: alpha is split evenly over the gateway metrics. */
export function engineOptions(cfg: AnalysisConfig): EngineOptions {
  const k = cfg.metrics.filter(isGatewayMetric).length;
  return { alpha: cfg.alpha / Math.max(1, k), beta: BETA, minRequests: cfg.minRequests };
}

export function startAnalysis(cfg: AnalysisConfig, now: number): AnalysisState {
  const metrics: Record<string, MetricRunState> = {};
  for (const m of cfg.metrics) {
    const s: MetricRunState = {
      measurements: 0,
      failures: 0,
      inconclusives: 0,
      errors: 0,
      consecutiveErrors: 0,
      passes: 0,
    };
    if (isGatewayMetric(m)) s.test = newMetricTest(m);
    metrics[m.name] = s;
  }
  return {
    phase: 'Running',
    message: cfg.initialDelayMs > 0 ? 'waiting for the initial delay' : 'starting',
    startedAt: now,
    nextAt: now + cfg.initialDelayMs,
    rounds: 0,
    window: { canary: ZERO },
    counterResets: 0,
    metrics,
  };
}

/** True when a measurement round is due (always false once the analysis has ended). */
export function analysisDue(state: AnalysisState, now: number): boolean {
  return state.phase === 'Running' && now >= state.nextAt;
}

/** The latest result of every metric, in config order (for status). */
export function latestResults(cfg: AnalysisConfig, state: AnalysisState): MetricResult[] {
  const out: MetricResult[] = [];
  for (const m of cfg.metrics) {
    const l = state.metrics[m.name]?.latest;
    if (l) out.push(l);
  }
  return out;
}

function errorResult(m: AnalysisMetricConfig, reason: string, now: number): MetricResult {
  return { name: m.name, status: 'Error', reason, at: now };
}

function count(s: MetricRunState, r: MetricResult, provider: boolean): MetricRunState {
  const n: MetricRunState = { ...s, latest: r, measurements: s.measurements + 1 };
  if (r.status === 'Error') {
    n.errors++;
    n.consecutiveErrors++;
    return n;
  }
  n.consecutiveErrors = 0;
  if (provider) {
    if (r.status === 'Fail') n.failures++;
    else if (r.status === 'Inconclusive') n.inconclusives++;
    else if (r.status === 'Pass') n.passes++;
  }
  return n;
}

export function stepAnalysis(
  cfg: AnalysisConfig,
  state: AnalysisState,
  m: Measurements,
  now: number,
): AnalysisState {
  if (state.phase !== 'Running') return state;
  if (now < state.startedAt + cfg.initialDelayMs) return state;
  const opts = engineOptions(cfg);
  const metrics: Record<string, MetricRunState> = { ...state.metrics };
  let { prev, window, counterResets } = state;
  const gateway = cfg.metrics.filter(isGatewayMetric);

  if (gateway.length > 0) {
    const traffic = m.traffic;
    if (traffic === undefined || 'error' in traffic) {
      const why =
        traffic === undefined ? 'no gateway stats in this round' : `gateway stats: ${traffic.error}`;
      for (const g of gateway) metrics[g.name] = count(metrics[g.name], errorResult(g, why, now), false);
    } else if (prev === undefined) {
      prev = traffic;
      for (const g of gateway) {
        const s = metrics[g.name];
        metrics[g.name] = {
          ...s,
          consecutiveErrors: 0,
          latest: judgeMetricTest(g, s.test!, window, now, opts),
        };
      }
    } else {
      const dc = diffCounts(traffic.canary, prev.canary);
      // A stable revision that shows up mid-window only sets its origin this tick.
      const ds = traffic.stable && prev.stable ? diffCounts(traffic.stable, prev.stable) : undefined;
      const reset =
        dc === undefined || (traffic.stable !== undefined && prev.stable !== undefined && ds === undefined);
      prev = traffic;
      if (reset) counterResets++;
      else {
        window = {
          canary: addCounts(window.canary, dc),
          stable: ds ? addCounts(window.stable ?? ZERO, ds) : window.stable,
        };
      }
      for (const g of gateway) {
        const s = metrics[g.name];
        const test = reset ? s.test! : updateMetricTest(g, s.test!, dc!, ds, now, opts);
        metrics[g.name] = count({ ...s, test }, judgeMetricTest(g, test, window, now, opts), false);
      }
    }
  }

  for (const p of cfg.metrics) {
    if (isGatewayMetric(p)) continue;
    const out = m.values?.[p.name];
    let r: MetricResult;
    if (out === undefined) r = errorResult(p, 'not measured in this round', now);
    else if (!out.ok) r = errorResult(p, out.error, now);
    else {
      const v = judgeValue(p, out.value);
      const value =
        typeof out.value === 'number' ||
        typeof out.value === 'string' ||
        typeof out.value === 'boolean' ||
        out.value === null
          ? out.value
          : JSON.stringify(out.value);
      r = { name: p.name, status: v.status, value, reason: v.reason, at: now };
      if (p.max !== undefined) r.limit = p.max;
      else if (p.min !== undefined) r.limit = p.min;
    }
    metrics[p.name] = count(metrics[p.name], r, true);
  }

  const next: AnalysisState = {
    ...state,
    prev,
    window,
    counterResets,
    metrics,
    rounds: state.rounds + 1,
    nextAt: now + cfg.intervalMs,
    message: 'running',
  };
  return decide(cfg, next, now);
}

/** Applies the limits; the first metric (config order) that ends the analysis names the reason. */
function decide(cfg: AnalysisConfig, judged: AnalysisState, now: number): AnalysisState {
  const s = withAlerts(cfg, judged);
  const end = (phase: AnalysisPhase, message: string): AnalysisState => ({
    ...s,
    phase,
    message,
    finishedAt: now,
  });
  for (const m of cfg.metrics) {
    const ms = s.metrics[m.name];
    if (alertsOnly(m)) continue;
    if (isGatewayMetric(m) && ms.latest?.status === 'Fail')
      return end('Failed', `${m.name}: ${ms.latest.reason}`);
    if (!isGatewayMetric(m) && ms.failures > cfg.failureLimit) {
      return end(
        'Failed',
        `${m.name}: ${ms.failures} failed measurement(s) (limit ${cfg.failureLimit}): ${ms.latest?.reason}`,
      );
    }
  }
  for (const m of cfg.metrics) {
    const ms = s.metrics[m.name];
    if (ms.consecutiveErrors > cfg.consecutiveErrorLimit) {
      return end(
        'Error',
        `${m.name}: ${ms.consecutiveErrors} errors in a row (limit ${cfg.consecutiveErrorLimit}): ${ms.latest?.reason}`,
      );
    }
  }
  for (const m of cfg.metrics) {
    const ms = s.metrics[m.name];
    if (ms.inconclusives > cfg.inconclusiveLimit) {
      return end(
        'Inconclusive',
        `${m.name}: ${ms.inconclusives} inconclusive measurement(s) (limit ${cfg.inconclusiveLimit}): ${ms.latest?.reason}`,
      );
    }
  }
  return s;
}

/** `s` with every alert-only metric that has failed by now in `alerts`. */
function withAlerts(cfg: AnalysisConfig, s: AnalysisState): AnalysisState {
  const known = s.alerts ?? [];
  const fresh = cfg.metrics.filter(
    (m) => alertsOnly(m) && !known.includes(m.name) && metricFailed(cfg, m, s.metrics[m.name]),
  );
  return fresh.length === 0 ? s : { ...s, alerts: [...known, ...fresh.map((m) => m.name)] };
}

/**
 * Ends a running analysis because the step it guards ran its course: Successful unless a metric could not
 * be judged (Inconclusive). An analysis that already ended is returned as is.
 */
export function finishAnalysis(cfg: AnalysisConfig, state: AnalysisState, now: number): AnalysisState {
  if (state.phase !== 'Running') return state;
  const opts = engineOptions(cfg);
  const metrics: Record<string, MetricRunState> = { ...state.metrics };
  let inconclusive: string | undefined;
  for (const m of cfg.metrics) {
    const s = metrics[m.name];
    if (isGatewayMetric(m)) {
      const r =
        state.prev === undefined
          ? {
              name: m.name,
              status: 'Inconclusive' as const,
              reason: 'no traffic sample was measured',
              at: now,
            }
          : judgeMetricTest(m as GatewayMetric, s.test!, state.window, now, opts, true);
      metrics[m.name] = { ...s, latest: r };
      if (alertsOnly(m)) continue;
      if (r.status === 'Inconclusive' || r.status === 'Error') inconclusive ??= `${m.name}: ${r.reason}`;
      if (r.status === 'Fail') {
        return { ...state, metrics, phase: 'Failed', message: `${m.name}: ${r.reason}`, finishedAt: now };
      }
    } else if (!alertsOnly(m) && s.passes === 0 && s.failures === 0) {
      inconclusive ??= `${m.name}: never measured successfully${s.latest ? ` (${s.latest.reason})` : ''}`;
    }
  }
  const phase: AnalysisPhase = inconclusive ? 'Inconclusive' : 'Successful';
  return {
    ...state,
    metrics,
    phase,
    message: inconclusive ?? 'every metric passed',
    finishedAt: now,
  };
}

/**
 * True when every metric's latest result is Pass (the caller may end the step early); an alert-only
 * metric that already alerted holds nothing any more.
 */
export function allPassing(cfg: AnalysisConfig, state: AnalysisState): boolean {
  return cfg.metrics.every(
    (m) =>
      state.metrics[m.name]?.latest?.status === 'Pass' || (alertsOnly(m) && state.alerts?.includes(m.name)),
  );
}
