/**
 * Sequential tests on counts. Everything here is pure arithmetic on plain, JSON-serializable state, so an
 * analysis can be persisted and resumed, and every look (one per tick) is safe: each test statistic is a
 * likelihood ratio that is a nonnegative (super)martingale under its null hypothesis, so by Ville's
 * inequality P(it EVER reaches 1/alpha) <= alpha, however often it is looked at (see docs/analysis.md).
 */

/** ln(sum(exp(xs))) without overflow. */
export function logSumExp(xs: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > max) max = x;
  if (max === Number.NEGATIVE_INFINITY || max === Number.POSITIVE_INFINITY) return max;
  let s = 0;
  for (const x of xs) s += Math.exp(x - max);
  return max + Math.log(s);
}

/** ln(mean(exp(llr_k))): the log likelihood ratio of an equal-weight mixture of alternatives. */
export function logMixture(llr: readonly number[]): number {
  return logSumExp(llr) - Math.log(llr.length);
}

/** Wald's boundaries: Fail (reject H0) at ln(1/alpha), "evidence for H0" at ln(beta). */
export function boundaries(alpha: number, beta: number): { upper: number; lower: number } {
  return { upper: Math.log(1 / alpha), lower: Math.log(beta) };
}

// ---------------------------------------------------------------------------------------------
// One-sample Bernoulli test. H0: p <= p0 (each trial "bad" with probability at most p0).
// H1: a mixture of p1 = p0 * 2^k (k = 1..K, below 1), i.e. "at least twice the limit", weighted equally.

/** Accumulated evidence of a one-sample test. */
export interface BernoulliTest {
  p0: number;
  /** The alternatives (ascending). */
  alts: number[];
  /** Trials and bad trials seen. */
  n: number;
  x: number;
  /** Log likelihood ratio of each alternative against p0. */
  llr: number[];
}

/** Alternatives for a null rate p0: doublings of p0 below 1 (at most 10), or (1+p0)/2 for p0 >= 0.5. */
export function alternativesFor(p0: number): number[] {
  if (p0 <= 0) return [0.001, 0.004, 0.016, 0.064, 0.25];
  const alts: number[] = [];
  for (let p = 2 * p0; p < 0.999 && alts.length < 10; p *= 2) alts.push(p);
  if (alts.length === 0) alts.push((1 + p0) / 2);
  return alts;
}

export function newBernoulliTest(p0: number): BernoulliTest {
  const alts = alternativesFor(p0);
  return { p0, alts, n: 0, x: 0, llr: alts.map(() => 0) };
}

/** Adds `n` trials of which `x` were bad. */
export function addBernoulli(t: BernoulliTest, n: number, x: number): BernoulliTest {
  if (n <= 0) return t;
  const good = n - x;
  const llr = t.alts.map((p1, k) => t.llr[k] + bernoulliLlr(p1, t.p0, x, good));
  return { ...t, n: t.n + n, x: t.x + x, llr };
}

/** A finite stand-in for +Infinity (a bad trial under p0 = 0), so that state stays JSON-serializable. */
export const CERTAIN = 1e9;

/** ln of P(x bad, good fine | p1) / P(same | p0). */
export function bernoulliLlr(p1: number, p0: number, x: number, good: number): number {
  let s = 0;
  if (x > 0) s += p0 <= 0 ? CERTAIN : x * Math.log(p1 / p0);
  if (good > 0) s += good * (Math.log1p(-p1) - Math.log1p(-p0));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Two-sample conditional test (canary vs stable). Within one tick, given the total number of bad
// trials e = xc + xs and the trial counts nc, ns, the canary's share xc follows Fisher's noncentral
// hypergeometric distribution whose only parameter is the odds ratio w = odds(pc) / odds(ps). The
// shared level of the rates (a database outage hitting both) cancels out, and it may change from tick
// to tick. H0: w <= w0. H1: a mixture of w1 = w0 * 2^k, k = 1..8.

export interface OddsRatioTest {
  w0: number;
  alts: number[];
  /** Bad trials seen in ticks where both sides had traffic. */
  xc: number;
  xs: number;
  llr: number[];
}

export function newOddsRatioTest(w0: number): OddsRatioTest {
  const alts: number[] = [];
  for (let k = 1; k <= 8; k++) alts.push(w0 * 2 ** k);
  return { w0, alts, xc: 0, xs: 0, llr: alts.map(() => 0) };
}

/**
 * ln of sum over x of C(nc,x) C(ns,e-x) w^x, relative to its first term (so only ratios are exact).
 * Terms are built by recurrence, so no factorials are needed.
 */
export function logFnchNorm(nc: number, ns: number, e: number, lw: number): number {
  const lo = Math.max(0, e - ns);
  const hi = Math.min(nc, e);
  const terms: number[] = [0];
  let t = 0;
  for (let x = lo; x < hi; x++) {
    // term(x+1)/term(x) = (nc-x)(e-x) / ((x+1)(ns-e+x+1)) * w
    t += Math.log(nc - x) + Math.log(e - x) - Math.log(x + 1) - Math.log(ns - e + x + 1) + lw;
    terms.push(t);
  }
  return logSumExp(terms) - lo * lw;
}

/** ln of P(xc | w1) / P(xc | w0) under Fisher's noncentral hypergeometric distribution. */
export function fnchLlr(nc: number, ns: number, xc: number, xs: number, w1: number, w0: number): number {
  const e = xc + xs;
  const l1 = Math.log(w1);
  const l0 = Math.log(w0);
  return xc * (l1 - l0) - (logFnchNorm(nc, ns, e, l1) - logFnchNorm(nc, ns, e, l0));
}

/** Adds one tick: canary nc trials / xc bad, stable ns trials / xs bad. */
export function addOddsRatio(
  t: OddsRatioTest,
  nc: number,
  xc: number,
  ns: number,
  xs: number,
): OddsRatioTest {
  if (nc <= 0 || ns <= 0 || xc + xs === 0 || xc + xs === nc + ns) return t; // no information
  const llr = t.alts.map((w1, k) => t.llr[k] + fnchLlr(nc, ns, xc, xs, w1, t.w0));
  return { ...t, xc: t.xc + xc, xs: t.xs + xs, llr };
}
