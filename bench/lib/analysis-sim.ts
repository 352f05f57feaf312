/**
 * Models beside the live measurements of bench/analysis.ts:
 *  - a seeded traffic simulation that drives the real analysis engine (src/analysis/run.ts) one look per
 *    second (the same model as test/helpers/analysis-sim.ts, copied here so the benchmark does not import
 *    from test/), for false-alarm rates over many more runs than a live benchmark can afford;
 *  - what Flagger's defaults give on the same traffic (interval x threshold; binomial tails per check).
 */

import type { LatencyHistogram, RevisionCounts, TrafficSample } from '../../src/analysis/counts.ts';
import { type AnalysisState, finishAnalysis, startAnalysis, stepAnalysis } from '../../src/analysis/run.ts';
import type { AnalysisConfig } from '../../src/config/types.ts';

/** mulberry32: a small, fast, seeded PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The gateway's latency buckets (ms). */
const BOUNDS_MS = [1, 2.5, 5, 7.5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 10000, 30000];

export interface SideModel {
  rps: number;
  errorRate: number;
  /** Latency of one request in ms. */
  latency: (rand: () => number) => number;
}

/** Lognormal latency: median `median` ms, sigma `sigma`, plus `shift` ms. */
export function lognormal(median: number, sigma: number, shift = 0): (rand: () => number) => number {
  return (rand) => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return shift + median * Math.exp(sigma * z);
  };
}

function bucket(ms: number): number {
  let i = 0;
  while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]) i++;
  return i;
}

function tick(rand: () => number, m: SideModel, acc: RevisionCounts): RevisionCounts {
  const n = Math.max(0, Math.round(m.rps + (rand() - 0.5) * 0.2 * m.rps));
  let errors = 0;
  const counts = acc.latency ? [...acc.latency.counts] : new Array<number>(BOUNDS_MS.length + 1).fill(0);
  for (let i = 0; i < n; i++) {
    if (rand() < m.errorRate) errors++;
    counts[bucket(m.latency(rand))]++;
  }
  const latency: LatencyHistogram = { boundsMs: BOUNDS_MS, counts };
  return { requests: acc.requests + n, errors: acc.errors + errors, latency };
}

export interface SimRun {
  state: AnalysisState;
  /** Seconds to the end (Failed, ...), undefined if the analysis ran its course. */
  endedAfter?: number;
}

/** One analysis over `seconds` of simulated traffic, one look per second. */
export function simulate(
  cfg: AnalysisConfig,
  canary: SideModel,
  stable: SideModel,
  seconds: number,
  seed: number,
): SimRun {
  const rand = prng(seed);
  let c: RevisionCounts = { requests: 0, errors: 0 };
  let s: RevisionCounts = { requests: 0, errors: 0 };
  const sample = (): TrafficSample => ({ canary: c, stable: s });
  let state = startAnalysis(cfg, 0);
  state = stepAnalysis(cfg, state, { traffic: sample() }, 0);
  for (let sec = 1; sec <= seconds; sec++) {
    c = tick(rand, canary, c);
    s = tick(rand, stable, s);
    state = stepAnalysis(cfg, state, { traffic: sample() }, sec * 1000);
    if (state.phase !== 'Running') return { state, endedAfter: sec };
  }
  return { state: finishAnalysis(cfg, state, seconds * 1000) };
}

export interface SimSummary {
  runs: number;
  seconds: number;
  fails: number;
  failRate: number;
  medianS: number | null;
  p95S: number | null;
  failedBy: Record<string, number>;
}

export function simulateMany(
  cfg: AnalysisConfig,
  canary: SideModel,
  stable: SideModel,
  runs: number,
  seconds: number,
): SimSummary {
  const ends: number[] = [];
  const failedBy: Record<string, number> = {};
  for (let i = 0; i < runs; i++) {
    const r = simulate(cfg, canary, stable, seconds, 1 + i * 7919);
    if (r.state.phase === 'Failed' && r.endedAfter !== undefined) {
      ends.push(r.endedAfter);
      const who = r.state.message.split(':')[0];
      failedBy[who] = (failedBy[who] ?? 0) + 1;
    }
  }
  ends.sort((a, b) => a - b);
  return {
    runs,
    seconds,
    fails: ends.length,
    failRate: ends.length / runs,
    medianS: ends.length ? ends[ends.length >> 1] : null,
    p95S: ends.length ? ends[Math.min(ends.length - 1, Math.floor(ends.length * 0.95))] : null,
    failedBy,
  };
}

/** Flagger's defaults (docs and code; see /work/shared/ANCHORS.md). */
export const FLAGGER = {
  intervalS: 60,
  /** Failed checks before rollback: 1 in code, 5 in the docs' examples. */
  thresholdCode: 1,
  thresholdDocs: 5,
  /** request-success-rate: minimum 99 % per check (docs' example). */
  minSuccessRate: 0.99,
} as const;

/**
 * Earliest rollback with Flagger: the first check runs one interval after the canary gets traffic, and
 * `threshold` failed checks in a row are needed, so >= interval x threshold (then the traffic shift).
 */
export function flaggerDetectionS(threshold: number): number {
  return FLAGGER.intervalS * threshold;
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** Lanczos approximation of ln Γ(x), x > 0. */
function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0];
  const t = y + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X > k) for X ~ Binomial(n, p), summed in log space (fine for tiny tails). */
export function binomialTailAbove(n: number, p: number, k: number): number {
  if (k >= n) return 0;
  let total = 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  for (let j = Math.max(0, Math.floor(k) + 1); j <= n; j++) {
    const term = Math.exp(logChoose(n, j) + j * lp + (n - j) * lq);
    total += term;
    if (term < total * 1e-16 && j > n * p) break;
  }
  return Math.min(1, total);
}

/**
 * Flagger's false-rollback probability for a healthy canary with error rate `p` at `canaryRps`: one
 * request-success-rate check per interval fails when the window's errors exceed 1 - minSuccessRate.
 */
export function flaggerFalseFailPerCheck(canaryRps: number, p: number): number {
  const n = Math.round(canaryRps * FLAGGER.intervalS);
  return binomialTailAbove(n, p, n * (1 - FLAGGER.minSuccessRate));
}
