import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { absoluteFloorFor } from '../config/error-rate-floor.ts';
import {
  addBernoulli,
  addOddsRatio,
  alternativesFor,
  bernoulliLlr,
  boundaries,
  fnchLlr,
  logMixture,
  logSumExp,
  newBernoulliTest,
  newOddsRatioTest,
} from './sequential.ts';

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} != ${b}`);

/** The smallest number of bad trials out of n that makes the test Fail at level alpha. */
function minFail(p0: number, n: number, alpha: number): number {
  const { upper } = boundaries(alpha, 0.01);
  let x = 0;
  while (logMixture(addBernoulli(newBernoulliTest(p0), n, x).llr) < upper) x++;
  return x;
}

describe('sequential: Wald boundaries and the Bernoulli mixture SPRT', () => {
  test('boundaries are ln(1/alpha) and ln(beta)', () => {
    close(boundaries(0.01, 0.05).upper, Math.log(100));
    close(boundaries(0.01, 0.05).lower, Math.log(0.05));
  });

  test('logSumExp is stable for large and infinite inputs', () => {
    close(logSumExp([1000, 1000]), 1000 + Math.log(2));
    assert.equal(logSumExp([Number.NEGATIVE_INFINITY]), Number.NEGATIVE_INFINITY);
    close(logMixture([0, 0, 0]), 0);
  });

  test('alternatives: doublings of the null below 1', () => {
    assert.deepEqual(alternativesFor(0.1), [0.2, 0.4, 0.8]);
    assert.deepEqual(alternativesFor(0.6), [0.8]);
    assert.equal(alternativesFor(0.001).length, 9);
    assert.ok(alternativesFor(0).length > 0);
    assert.ok(alternativesFor(0).every((p) => p > 0 && p < 1));
  });

  test('per-trial log likelihood ratio matches the closed form', () => {
    close(bernoulliLlr(0.02, 0.01, 3, 97), 3 * Math.log(2) + 97 * Math.log(0.98 / 0.99));
    close(bernoulliLlr(0.5, 0.25, 0, 10), 10 * Math.log(0.5 / 0.75));
    assert.ok(bernoulliLlr(0.01, 0, 1, 0) >= 1e9, 'a bad trial under p0 = 0 is decisive');
  });

  test('the mixture equals the mean of the component likelihood ratios (brute force)', () => {
    const t = addBernoulli(addBernoulli(newBernoulliTest(0.05), 40, 4), 60, 2);
    const brute = t.alts.map((p1) => (p1 / 0.05) ** 6 * ((1 - p1) / 0.95) ** 94);
    close(logMixture(t.llr), Math.log(brute.reduce((a, b) => a + b) / brute.length), 1e-9);
    assert.equal(t.n, 100);
    assert.equal(t.x, 6);
  });

  // Bad trials needed to Fail at alpha = 0.0025 (0.01 split over 4 metrics).
  const table: Array<[p0: number, n: number, x: number]> = [
    [0.01, 100, 7],
    [0.01, 500, 17],
    [0.01, 1000, 26],
    [0.001, 1000, 8],
    [0.05, 200, 25],
    [0, 50, 1],
  ];
  for (const [p0, n, x] of table) {
    test(`p0=${p0}, n=${n}: Fail from ${x} bad trials`, () => {
      assert.equal(minFail(p0, n, 0.0025), x);
    });
  }

  test('more alpha, fewer bad trials needed; more trials at the same rate, more evidence', () => {
    assert.ok(minFail(0.01, 500, 0.05) < minFail(0.01, 500, 0.001));
    const a = logMixture(addBernoulli(newBernoulliTest(0.01), 100, 5).llr);
    const b = logMixture(addBernoulli(newBernoulliTest(0.01), 1000, 50).llr);
    assert.ok(b > a);
  });

  test('evidence piles up the same whether trials come in one tick or many', () => {
    let t = newBernoulliTest(0.01);
    for (let i = 0; i < 10; i++) t = addBernoulli(t, 50, i % 3 === 0 ? 2 : 0);
    const once = addBernoulli(newBernoulliTest(0.01), 500, 8);
    for (const [k, v] of t.llr.entries()) close(v, once.llr[k]);
  });
});

describe('sequential: conditional odds-ratio test (canary vs stable)', () => {
  test('fnchLlr: central case against the binomial shape', () => {
    // nc = ns, w0 = 1: the null is the central hypergeometric; check with a direct sum.
    const nc = 20;
    const ns = 30;
    const xc = 4;
    const xs = 1;
    const e = xc + xs;
    const C = (n: number, k: number) => {
      let r = 1;
      for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1);
      return r;
    };
    const p = (w: number, x: number) => {
      let z = 0;
      for (let y = 0; y <= e; y++) z += C(nc, y) * C(ns, e - y) * w ** y;
      return (C(nc, x) * C(ns, e - x) * w ** x) / z;
    };
    close(fnchLlr(nc, ns, xc, xs, 4, 1), Math.log(p(4, xc) / p(1, xc)), 1e-9);
  });

  test('ticks without errors (or without one side) carry no information', () => {
    const t = newOddsRatioTest(2);
    assert.deepEqual(addOddsRatio(t, 100, 0, 900, 0), t);
    assert.deepEqual(addOddsRatio(t, 0, 0, 900, 5), t);
    assert.deepEqual(addOddsRatio(t, 100, 3, 0, 0), t);
  });

  test('a shared outage (same rate on both sides) gives evidence FOR the null', () => {
    let t = newOddsRatioTest(2);
    for (let i = 0; i < 30; i++) t = addOddsRatio(t, 100, 5, 900, 45);
    assert.ok(logMixture(t.llr) < 0);
  });

  test('errors only on the canary: a few are enough', () => {
    const { upper } = boundaries(0.0025, 0.01);
    assert.ok(logMixture(addOddsRatio(newOddsRatioTest(2), 100, 3, 900, 0).llr) < upper);
    assert.ok(logMixture(addOddsRatio(newOddsRatioTest(2), 100, 4, 900, 0).llr) >= upper);
  });

  test('absoluteFloorFor: odds ratio > w0 and rate > floor imply rate > stable + by', () => {
    close(absoluteFloorFor(0.005, 2), 0.01005076, 1e-6);
    assert.equal(absoluteFloorFor(0, 2), 0);
    assert.equal(absoluteFloorFor(0.2, 2), Number.POSITIVE_INFINITY);
    for (const [by, w0] of [
      [0.005, 2],
      [0.01, 1.5],
      [0.05, 3],
    ]) {
      const c = absoluteFloorFor(by, w0);
      // Worst case: pc just above c, ps as large as the odds ratio allows.
      const pc = c + 1e-9;
      const oc = pc / (1 - pc);
      const os = oc / w0;
      const ps = os / (1 + os);
      assert.ok(pc - ps >= by - 1e-7, `by=${by} w0=${w0}: ${pc - ps}`);
    }
  });
});
