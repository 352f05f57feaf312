/**
 * The judgement of the gateway metrics (errorRate, errorRateVsStable, latency, latencyVsStable): a
 * sequential test per metric, fed one tick of traffic increments at a time. Pure; state is plain data.
 * The method (hypotheses, error rates, why every-second looks are safe) is in docs/analysis.md.
 */

import { absoluteFloorFor } from '../config/error-rate-floor.ts';
import type {
  AnalysisMetricConfig,
  ErrorRateMetric,
  ErrorRateVsStableMetric,
  LatencyMetric,
  LatencyVsStableMetric,
} from '../config/types.ts';
import {
  addCounts,
  histogramTotal,
  type LatencyHistogram,
  quantileBound,
  quantileUpperConfidence,
  type RevisionCounts,
  slowerThan,
} from './counts.ts';
import {
  addBernoulli,
  addOddsRatio,
  type BernoulliTest,
  boundaries,
  logMixture,
  newBernoulliTest,
  newOddsRatioTest,
  type OddsRatioTest,
} from './sequential.ts';

export type GatewayMetric = ErrorRateMetric | ErrorRateVsStableMetric | LatencyMetric | LatencyVsStableMetric;

export function isGatewayMetric(m: AnalysisMetricConfig): m is GatewayMetric {
  return (
    m.type === 'errorRate' ||
    m.type === 'errorRateVsStable' ||
    m.type === 'latency' ||
    m.type === 'latencyVsStable'
  );
}

/**
 * `Pending`: no verdict yet (too few requests, or the evidence is not strong either way); the analysis
 * goes on. `Pass`: strong evidence for the null hypothesis (healthy), or the analysis ended without Fail.
 */
export type MetricStatus = 'Pending' | 'Pass' | 'Fail' | 'Inconclusive' | 'Error';

/** The latest measurement of one metric, with the numbers behind it. */
export interface MetricResult {
  name: string;
  status: MetricStatus;
  /** Canary value: a rate, a latency in ms (a histogram bucket bound), or a provider's value. */
  value?: number | string | boolean | null;
  /** Stable's value over the same window (vs-stable and informative), when known. */
  baseline?: number;
  /** The limit the value is judged against, when it is a number. */
  limit?: number;
  /** Canary requests (or latency samples) in the window. */
  samples?: number;
  /** ln of the likelihood ratio against "healthy" and the Fail threshold ln(1/alpha). */
  evidence?: number;
  threshold?: number;
  reason: string;
  /** ms since epoch. */
  at: number;
}

/** Statistical settings shared by the metrics of one analysis. */
export interface EngineOptions {
  /** False-Fail probability of this metric. */
  alpha: number;
  /** Miss probability at the smallest alternative (the "evidence for healthy" boundary). */
  beta: number;
  minRequests: number;
}

/** Trailing ticks of stable latency pooled to estimate stable's percentile (latencyVsStable). */
export const STABLE_LATENCY_TICKS = 10;
/** Per-tick confidence that the stable percentile estimate is not too low (latencyVsStable). */
export const STABLE_QUANTILE_GAMMA = 0.01;

export type MetricTest =
  | { type: 'errorRate'; test: BernoulliTest; failedAt?: number }
  | {
      type: 'errorRateVsStable';
      ratio: OddsRatioTest;
      abs: BernoulliTest;
      /** Absolute rate the canary must exceed too (derived from `by` and `ratio`). */
      floor: number;
      ratioFailedAt?: number;
      absFailedAt?: number;
      failedAt?: number;
    }
  | { type: 'latency'; fail: BernoulliTest; pass: BernoulliTest; failedAt?: number }
  | {
      type: 'latencyVsStable';
      fail: BernoulliTest;
      pass: BernoulliTest;
      /** Stable latency increments of the last ticks (newest last). */
      recent: LatencyHistogram[];
      /** Last threshold used (stable percentile bound + by). */
      lastThresholdMs?: number;
      failedAt?: number;
    };

export function newMetricTest(m: GatewayMetric): MetricTest {
  switch (m.type) {
    case 'errorRate':
      return { type: 'errorRate', test: newBernoulliTest(m.max) };
    case 'errorRateVsStable': {
      const floor = absoluteFloorFor(m.by, m.ratio);
      return {
        type: 'errorRateVsStable',
        ratio: newOddsRatioTest(m.ratio),
        abs: newBernoulliTest(Number.isFinite(floor) ? floor : 0.5),
        floor,
      };
    }
    case 'latency':
    case 'latencyVsStable': {
      const p0 = 1 - m.percentile / 100;
      if (m.type === 'latency') {
        return { type: 'latency', fail: newBernoulliTest(p0), pass: newBernoulliTest(p0) };
      }
      return { type: 'latencyVsStable', fail: newBernoulliTest(p0), pass: newBernoulliTest(p0), recent: [] };
    }
  }
}

/** Feeds one tick of increments (canary, and stable when there is one). */
export function updateMetricTest(
  m: GatewayMetric,
  t: MetricTest,
  canary: RevisionCounts,
  stable: RevisionCounts | undefined,
  now: number,
  opts: EngineOptions,
): MetricTest {
  const { upper } = boundaries(opts.alpha, opts.beta);
  if (m.type === 'errorRate' && t.type === 'errorRate') {
    const test = addBernoulli(t.test, canary.requests, canary.errors);
    const failedAt = t.failedAt ?? (crossed(test.llr, upper, test.n, opts) ? now : undefined);
    return { ...t, test, failedAt };
  }
  if (m.type === 'errorRateVsStable' && t.type === 'errorRateVsStable') {
    const abs = Number.isFinite(t.floor) ? addBernoulli(t.abs, canary.requests, canary.errors) : t.abs;
    const ratio = stable
      ? addOddsRatio(t.ratio, canary.requests, canary.errors, stable.requests, stable.errors)
      : t.ratio;
    const n = abs.n;
    const absFailedAt =
      t.absFailedAt ?? (Number.isFinite(t.floor) && crossed(abs.llr, upper, n, opts) ? now : undefined);
    const ratioFailedAt = t.ratioFailedAt ?? (crossed(ratio.llr, upper, n, opts) ? now : undefined);
    const failedAt =
      t.failedAt ?? (absFailedAt !== undefined && ratioFailedAt !== undefined ? now : undefined);
    return { ...t, abs, ratio, absFailedAt, ratioFailedAt, failedAt };
  }
  if (m.type === 'latency' && t.type === 'latency') {
    const h = canary.latency;
    if (!h) return t;
    const slow = slowerThan(h, m.maxMs);
    const n = histogramTotal(h);
    const fail = addBernoulli(t.fail, n, slow.estimate);
    const pass = addBernoulli(t.pass, n, slow.maybe);
    const failedAt = t.failedAt ?? (crossed(fail.llr, upper, fail.n, opts) ? now : undefined);
    return { ...t, fail, pass, failedAt };
  }
  if (m.type === 'latencyVsStable' && t.type === 'latencyVsStable') {
    // The stable reference: its percentile over the trailing ticks INCLUDING this one (so a slowdown
    // shared by both revisions raises the threshold at once), bounded from above with confidence.
    const recent = stable?.latency ? [...t.recent, stable.latency].slice(-STABLE_LATENCY_TICKS) : t.recent;
    const h = canary.latency;
    if (!h || recent.length === 0) return { ...t, recent };
    let pooled: RevisionCounts = { requests: 0, errors: 0 };
    for (const r of recent) pooled = addCounts(pooled, { requests: 0, errors: 0, latency: r });
    const ub = pooled.latency
      ? quantileUpperConfidence(pooled.latency, m.percentile / 100, STABLE_QUANTILE_GAMMA)
      : undefined;
    if (ub === undefined || !Number.isFinite(ub)) return { ...t, recent };
    const threshold = ub + m.byMs;
    const slow = slowerThan(h, threshold);
    const n = histogramTotal(h);
    const fail = addBernoulli(t.fail, n, slow.estimate);
    const pass = addBernoulli(t.pass, n, slow.maybe);
    const failedAt = t.failedAt ?? (crossed(fail.llr, upper, fail.n, opts) ? now : undefined);
    return { ...t, fail, pass, recent, lastThresholdMs: threshold, failedAt };
  }
  return t;
}

function crossed(llr: readonly number[], upper: number, n: number, opts: EngineOptions): boolean {
  return n >= opts.minRequests && logMixture(llr) >= upper;
}

function maxOf(xs: readonly number[]): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function rate(c: RevisionCounts | undefined): number | undefined {
  return c && c.requests > 0 ? c.errors / c.requests : undefined;
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function pct(x: number): string {
  return `${round(x * 100, 3)}%`;
}

/**
 * The verdict of a metric test over the window so far. `final`: the analysis ran its course, so a
 * metric without Fail passes (or is Inconclusive below minRequests).
 */
export function judgeMetricTest(
  m: GatewayMetric,
  t: MetricTest,
  window: { canary: RevisionCounts; stable?: RevisionCounts },
  now: number,
  opts: EngineOptions,
  final = false,
): MetricResult {
  const { upper, lower } = boundaries(opts.alpha, opts.beta);
  const base = { name: m.name, at: now, threshold: round(upper, 4) };
  const latencyMetric = m.type === 'latency' || m.type === 'latencyVsStable';
  const samples = latencyMetric ? histogramTotal(window.canary.latency) : window.canary.requests;
  let value: number | undefined;
  let baseline: number | undefined;
  let limit: number | undefined;
  let evidence: number;
  let passEvidence: number;
  let what: string;
  switch (t.type) {
    case 'errorRate':
      value = rate(window.canary);
      baseline = rate(window.stable);
      limit = t.test.p0;
      evidence = logMixture(t.test.llr);
      passEvidence = maxOf(t.test.llr);
      what = `error rate ${value === undefined ? '-' : pct(value)} (${window.canary.errors}/${window.canary.requests}) vs max ${pct(t.test.p0)}`;
      break;
    case 'errorRateVsStable': {
      value = rate(window.canary);
      baseline = rate(window.stable);
      limit = baseline === undefined ? undefined : baseline + (m.type === 'errorRateVsStable' ? m.by : 0);
      const er = logMixture(t.ratio.llr);
      const ea = Number.isFinite(t.floor) ? logMixture(t.abs.llr) : Number.NEGATIVE_INFINITY;
      // Fail needs both (intersection-union test): the weaker evidence is the one that counts.
      evidence = Math.min(
        t.ratioFailedAt !== undefined ? upper : er,
        t.absFailedAt !== undefined ? upper : ea,
      );
      passEvidence = Math.min(maxOf(t.ratio.llr), Number.isFinite(t.floor) ? maxOf(t.abs.llr) : lower);
      what =
        `error rate ${value === undefined ? '-' : pct(value)} (${window.canary.errors}/${window.canary.requests}) vs stable ` +
        `${baseline === undefined ? '-' : pct(baseline)} (${window.stable?.errors ?? 0}/${window.stable?.requests ?? 0})`;
      if (!window.stable || window.stable.requests === 0) {
        if (t.failedAt === undefined) {
          return {
            ...base,
            status: final ? 'Inconclusive' : 'Pending',
            value,
            samples,
            reason: `${what}: no stable traffic to compare with`,
          };
        }
      }
      break;
    }
    case 'latency':
    case 'latencyVsStable': {
      const q = (m.type === 'latency' || m.type === 'latencyVsStable' ? m.percentile : 99) / 100;
      value = window.canary.latency ? quantileBound(window.canary.latency, q) : undefined;
      baseline = window.stable?.latency ? quantileBound(window.stable.latency, q) : undefined;
      limit = m.type === 'latency' ? m.maxMs : t.type === 'latencyVsStable' ? t.lastThresholdMs : undefined;
      evidence = logMixture(t.fail.llr);
      passEvidence = maxOf(t.pass.llr);
      const p = m.type === 'latency' || m.type === 'latencyVsStable' ? m.percentile : 99;
      const fmt = (x: number | undefined) =>
        x === undefined ? '-' : Number.isFinite(x) ? `<=${x}ms` : '>last bucket';
      what =
        `p${p} ${fmt(value)}` +
        (m.type === 'latency'
          ? ` vs max ${m.maxMs}ms`
          : ` vs stable ${fmt(baseline)} + ${m.type === 'latencyVsStable' ? m.byMs : 0}ms`) +
        ` (${t.fail.x} of ${t.fail.n} slower than the limit)`;
      if (samples === 0 && !window.canary.latency && window.canary.requests > 0) {
        return { ...base, status: 'Error', samples, reason: 'the gateway reports no latency histogram' };
      }
      if (m.type === 'latencyVsStable' && t.type === 'latencyVsStable' && t.lastThresholdMs === undefined) {
        if (t.failedAt === undefined) {
          return {
            ...base,
            status: final ? 'Inconclusive' : 'Pending',
            value,
            baseline,
            samples,
            reason: `${what}: too little stable traffic to estimate its p${p}`,
          };
        }
      }
      break;
    }
  }
  const result = {
    ...base,
    value: value === undefined || !Number.isFinite(value) ? undefined : round(value),
    baseline: baseline === undefined || !Number.isFinite(baseline) ? undefined : round(baseline),
    limit: limit === undefined ? undefined : round(limit),
    samples,
    evidence: round(Math.min(evidence, 1e9), 4),
  };
  if (t.failedAt !== undefined) {
    return { ...result, status: 'Fail', reason: `${what}: strong evidence of a regression` };
  }
  if (samples < opts.minRequests) {
    return {
      ...result,
      status: final ? 'Inconclusive' : 'Pending',
      reason: `${what}: ${samples} of ${opts.minRequests} requests needed for a verdict`,
    };
  }
  if (final) return { ...result, status: 'Pass', reason: `${what}: no regression found` };
  if (passEvidence <= lower)
    return { ...result, status: 'Pass', reason: `${what}: strong evidence of health` };
  return { ...result, status: 'Pending', reason: `${what}: not enough evidence yet` };
}
