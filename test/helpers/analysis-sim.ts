/** Seeded traffic simulation for the analysis engine tests (and the figures in docs/analysis.md). */

import type { LatencyHistogram, RevisionCounts, TrafficSample } from '../../src/analysis/counts.ts';
import { type AnalysisState, finishAnalysis, startAnalysis, stepAnalysis } from '../../src/analysis/run.ts';
import type { AnalysisConfig } from '../../src/config/types.ts';

export { prng } from './prng.ts';

import { prng } from './prng.ts';

/** The gateway's buckets (ms). */
export const BOUNDS_MS = [1, 2.5, 5, 7.5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 10000, 30000];

export interface SideModel {
  /** Requests per second. */
  rps: number;
  /** Error probability per request (may depend on the second). */
  errorRate: number | ((sec: number) => number);
  /** Latency of one request in ms. */
  latency?: (rand: () => number, sec: number) => number;
}

function bucket(ms: number): number {
  let i = 0;
  while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]) i++;
  return i;
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

function tick(rand: () => number, m: SideModel, sec: number, acc: RevisionCounts): RevisionCounts {
  // Poisson-ish arrivals: rps +- a little, so ticks differ.
  const n = Math.max(0, Math.round(m.rps + (rand() - 0.5) * 0.2 * m.rps));
  const p = typeof m.errorRate === 'function' ? m.errorRate(sec) : m.errorRate;
  let errors = 0;
  const counts = acc.latency ? [...acc.latency.counts] : new Array<number>(BOUNDS_MS.length + 1).fill(0);
  for (let i = 0; i < n; i++) {
    if (rand() < p) errors++;
    if (m.latency) counts[bucket(m.latency(rand, sec))]++;
  }
  const out: RevisionCounts = { requests: acc.requests + n, errors: acc.errors + errors };
  if (m.latency) out.latency = { boundsMs: BOUNDS_MS, counts } satisfies LatencyHistogram;
  return out;
}

export interface SimResult {
  state: AnalysisState;
  /** Seconds from the start to the end of the analysis (Failed etc.), or undefined if it ran its course. */
  endedAfter?: number;
}

/** Runs one analysis over `seconds` seconds of simulated traffic, one measurement per second. */
export function simulate(
  cfg: AnalysisConfig,
  canary: SideModel,
  stable: SideModel | undefined,
  seconds: number,
  seed: number,
): SimResult {
  const rand = prng(seed);
  let c: RevisionCounts = { requests: 0, errors: 0 };
  let s: RevisionCounts = { requests: 0, errors: 0 };
  let state = startAnalysis(cfg, 0);
  state = stepAnalysis(cfg, state, { traffic: sample(c, stable ? s : undefined) }, 0);
  for (let sec = 1; sec <= seconds; sec++) {
    c = tick(rand, canary, sec, c);
    if (stable) s = tick(rand, stable, sec, s);
    state = stepAnalysis(cfg, state, { traffic: sample(c, stable ? s : undefined) }, sec * 1000);
    if (state.phase !== 'Running') return { state, endedAfter: sec };
  }
  return { state: finishAnalysis(cfg, state, seconds * 1000) };
}

function sample(c: RevisionCounts, s: RevisionCounts | undefined): TrafficSample {
  return s ? { canary: c, stable: s } : { canary: c };
}
