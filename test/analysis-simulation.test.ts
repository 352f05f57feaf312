/**
 * Seeded simulations of the analysis engine at ~100 req/s canary, 900 req/s stable, one look per second.
 * The figures in docs/analysis.md come from these scenarios.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateAnalysis } from '../src/config/analysis.ts';
import type { AnalysisConfig } from '../src/config/types.ts';
import { lognormal, type SideModel, simulate } from './helpers/analysis-sim.ts';

function cfgOf(metrics: unknown[], extra: Record<string, unknown> = {}): AnalysisConfig {
  const v = validateAnalysis({ minRequests: 50, metrics, ...extra });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.analysis;
}

const ERRORS = { name: 'errors', errorRate: { max: 0.01 } };
const VS = { name: 'vs-stable', errorRate: { maxIncreaseOver: 'stable', by: 0.005 } };
const LAT = { name: 'latency', latency: { percentile: 99, max: '400ms' } };
const LATVS = {
  name: 'latency-vs-stable',
  latency: { percentile: 99, maxIncreaseOver: 'stable', by: '100ms' },
};
const ALL = [ERRORS, VS, LAT, LATVS];

/** Stable-like latency: median 40 ms, p99 ~160 ms. */
const lat = lognormal(40, 0.6);
const canary = (errorRate: SideModel['errorRate'], latency: SideModel['latency'] = lat): SideModel => ({
  rps: 100,
  errorRate,
  latency,
});
const stable = (errorRate: SideModel['errorRate'], latency: SideModel['latency'] = lat): SideModel => ({
  rps: 900,
  errorRate,
  latency,
});

function many(cfg: AnalysisConfig, c: SideModel, s: SideModel, runs: number, seconds: number) {
  const ends: number[] = [];
  const failedBy: Record<string, number> = {};
  for (let i = 0; i < runs; i++) {
    const r = simulate(cfg, c, s, seconds, 1 + i * 7919);
    if (r.state.phase === 'Failed') {
      ends.push(r.endedAfter!);
      const who = r.state.message.split(':')[0];
      failedBy[who] = (failedBy[who] ?? 0) + 1;
    }
  }
  ends.sort((a, b) => a - b);
  return {
    fails: ends.length,
    median: ends[ends.length >> 1],
    p95: ends[Math.floor(ends.length * 0.95)],
    failedBy,
  };
}

describe('analysis simulations (seeded)', () => {
  test('5% errors vs 0.1% on stable: Fail within a few seconds (errorRate and vs-stable)', () => {
    for (const metric of [ERRORS, VS]) {
      const r = many(cfgOf([metric]), canary(0.05), stable(0.001), 200, 60);
      assert.equal(r.fails, 200, `${metric.name}: every run fails`);
      assert.ok(r.median <= 3 && r.p95 <= 6, `${metric.name}: median ${r.median}s p95 ${r.p95}s`);
    }
    const all = many(cfgOf(ALL), canary(0.05), stable(0.001), 200, 60);
    assert.equal(all.fails, 200);
    assert.ok(all.median <= 3 && all.p95 <= 6, `all metrics: median ${all.median}s p95 ${all.p95}s`);
  });

  test('healthy canary identical to stable: false-Fail rate <= 1% over 1000 runs (all four metrics)', () => {
    const r = many(cfgOf(ALL), canary(0.001), stable(0.001), 1000, 60);
    assert.ok(r.fails <= 10, `false Fails: ${r.fails}/1000 ${JSON.stringify(r.failedBy)}`);
  });

  test('canary exactly at the limit (1% errors vs max 1%): false-Fail rate <= alpha over 5 minutes', () => {
    const r = many(cfgOf([ERRORS]), canary(0.01), stable(0.001), 300, 300);
    assert.ok(r.fails <= 3, `false Fails: ${r.fails}/300`);
  });

  test('shared outage (both revisions at 5%, or both jumping to 50% mid-run): vs-stable never blames the canary', () => {
    const cfg = cfgOf([VS]);
    assert.equal(many(cfg, canary(0.05), stable(0.05), 200, 120).fails, 0);
    const outage = (sec: number) => (sec > 10 ? 0.5 : 0.001);
    assert.equal(many(cfg, canary(outage), stable(outage), 200, 60).fails, 0);
    // ...while the absolute metric does fail (that is what it is for).
    assert.equal(many(cfgOf([ERRORS]), canary(0.05), stable(0.05), 20, 60).fails, 20);
  });

  test('canary at stable + by (0.6% vs 0.1%, by 0.5%): no false Fail', () => {
    assert.equal(many(cfgOf([VS]), canary(0.006), stable(0.001), 200, 120).fails, 0);
  });

  test('latency +300 ms: detected by the absolute and the vs-stable metric', () => {
    const slow = lognormal(40, 0.6, 300);
    for (const metric of [LAT, LATVS]) {
      const r = many(cfgOf([metric]), canary(0.001, slow), stable(0.001), 200, 60);
      assert.equal(r.fails, 200, metric.name);
      assert.ok(r.p95 <= 3, `${metric.name}: p95 ${r.p95}s`);
    }
  });

  test('latency: a shared slowdown (+500 ms on both) does not fail latency-vs-stable; +100 ms within by: 300ms passes', () => {
    const slowdown = (rand: () => number, sec: number) => lat(rand) + (sec > 10 ? 500 : 0);
    assert.equal(many(cfgOf([LATVS]), canary(0.001, slowdown), stable(0.001, slowdown), 200, 60).fails, 0);
    const by300 = { name: 'l', latency: { percentile: 99, maxIncreaseOver: 'stable', by: '300ms' } };
    assert.equal(
      many(cfgOf([by300]), canary(0.001, lognormal(40, 0.6, 100)), stable(0.001), 200, 60).fails,
      0,
    );
  });

  test('minRequests: at 10 req/s with minRequests 200, no verdict before 20 s even at 100% errors', () => {
    const cfg = cfgOf([ERRORS], { minRequests: 200 });
    const r = many(cfg, { rps: 10, errorRate: 1 }, stable(0.001), 50, 60);
    assert.equal(r.fails, 50);
    assert.ok(r.median >= 18, `median ${r.median}`);
  });
});
