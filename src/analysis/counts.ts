/**
 * The traffic numbers the engine judges: per revision, requests, errors and a latency histogram, as
 * cumulative counters (what the gateway's `/stats` reports) or as increments over one tick.
 */

/**
 * Non-cumulative latency counts: `counts[i]` = requests with latency in (boundsMs[i-1], boundsMs[i]]
 * (bucket 0 from 0), and `counts[boundsMs.length]` = slower than the last bound (+Inf).
 */
export interface LatencyHistogram {
  boundsMs: readonly number[];
  counts: readonly number[];
}

export interface RevisionCounts {
  /** Requests that finished. */
  requests: number;
  /** Of those, failed ones: 5xx responses (gateway-generated 502/503/504 included). */
  errors: number;
  /** Latency of the requests that got a response. */
  latency?: LatencyHistogram;
}

/** Cumulative counters of the canary and the stable revision, read at the same moment. */
export interface TrafficSample {
  canary: RevisionCounts;
  /** Absent when there is no stable revision (e.g. the first release); vs-stable metrics then stay Pending. */
  stable?: RevisionCounts;
}

export const ZERO: RevisionCounts = { requests: 0, errors: 0 };

export function histogramTotal(h: LatencyHistogram | undefined): number {
  if (!h) return 0;
  let s = 0;
  for (const c of h.counts) s += c;
  return s;
}

function sameBounds(a: LatencyHistogram, b: LatencyHistogram): boolean {
  return a.boundsMs.length === b.boundsMs.length && a.boundsMs.every((x, i) => x === b.boundsMs[i]);
}

/**
 * cur - prev, or undefined when a counter went down (a gateway worker restarted and its share started
 * from zero again) or the histogram layout changed: the increments of that tick are unknown.
 */
export function diffCounts(cur: RevisionCounts, prev: RevisionCounts): RevisionCounts | undefined {
  const requests = cur.requests - prev.requests;
  const errors = cur.errors - prev.errors;
  if (requests < 0 || errors < 0) return undefined;
  const out: RevisionCounts = { requests, errors };
  if (cur.latency) {
    if (!prev.latency) {
      if (prev.requests > 0) return undefined;
      out.latency = cur.latency;
    } else {
      if (!sameBounds(cur.latency, prev.latency)) return undefined;
      const pc = prev.latency.counts;
      const counts = cur.latency.counts.map((c, i) => c - (pc[i] ?? 0));
      if (counts.some((c) => c < 0)) return undefined;
      out.latency = { boundsMs: cur.latency.boundsMs, counts };
    }
  }
  return out;
}

export function addCounts(a: RevisionCounts, b: RevisionCounts): RevisionCounts {
  const out: RevisionCounts = { requests: a.requests + b.requests, errors: a.errors + b.errors };
  const la = a.latency;
  const lb = b.latency;
  if (la && lb && sameBounds(la, lb)) {
    out.latency = { boundsMs: la.boundsMs, counts: la.counts.map((c, i) => c + (lb.counts[i] ?? 0)) };
  } else if (la || lb) {
    out.latency = la ?? lb;
  }
  return out;
}

/** Lower bound of bucket i (0 for the first). */
function lowerBound(h: LatencyHistogram, i: number): number {
  return i === 0 ? 0 : h.boundsMs[i - 1];
}

/** Upper bound of bucket i (+Infinity for the last). */
function upperBound(h: LatencyHistogram, i: number): number {
  return i < h.boundsMs.length ? h.boundsMs[i] : Number.POSITIVE_INFINITY;
}

/**
 * Requests slower than `ms`: `surely` counts only buckets entirely above `ms`, `maybe` also the bucket
 * that contains `ms`, and `estimate` adds the share of that bucket above `ms` assuming latencies are
 * spread evenly inside it (linear interpolation, as Prometheus' histogram_quantile does). All three are
 * equal when `ms` is a bucket bound.
 */
export function slowerThan(
  h: LatencyHistogram,
  ms: number,
): { surely: number; maybe: number; estimate: number } {
  let surely = 0;
  let maybe = 0;
  let estimate = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const lo = lowerBound(h, i);
    const hi = upperBound(h, i);
    const c = h.counts[i];
    if (lo >= ms) {
      surely += c;
      estimate += c;
    } else if (hi > ms && c > 0) {
      estimate += Number.isFinite(hi) ? (c * (hi - ms)) / (hi - lo) : c;
    }
    if (hi > ms) maybe += c;
  }
  return { surely, maybe, estimate };
}

/**
 * The bucket upper bound at the q-quantile (0 < q < 1) of a histogram: the smallest bound b with
 * count(latency <= b) >= q * total. Undefined for an empty histogram.
 */
export function quantileBound(h: LatencyHistogram, q: number): number | undefined {
  const total = histogramTotal(h);
  if (total === 0) return undefined;
  let acc = 0;
  for (let i = 0; i < h.counts.length; i++) {
    acc += h.counts[i];
    if (acc >= q * total) return upperBound(h, i);
  }
  return upperBound(h, h.counts.length - 1);
}

/**
 * The upper bound of the bucket holding the j-th largest observation: a bound that is >= the true
 * q-quantile with probability >= 1 - gamma, where j is the largest rank with P(Bin(n, 1-q) < j) <= gamma.
 * Undefined when there are too few observations for that confidence.
 */
export function quantileUpperConfidence(h: LatencyHistogram, q: number, gamma: number): number | undefined {
  const n = histogramTotal(h);
  const j = confidenceRank(n, 1 - q, gamma);
  if (j === 0) return undefined;
  let acc = 0;
  for (let i = h.counts.length - 1; i >= 0; i--) {
    acc += h.counts[i];
    if (acc >= j) return upperBound(h, i);
  }
  return undefined;
}

/** Largest j >= 0 with P(Bin(n, p) < j) <= gamma (0 when even P(Bin = 0) > gamma). */
export function confidenceRank(n: number, p: number, gamma: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  const lq = Math.log1p(-p);
  const lr = Math.log(p) - lq;
  let lp = n * lq; // ln P(Bin = 0)
  let cdf = 0; // P(Bin < k)
  let k = 0;
  while (k <= n) {
    const next = cdf + Math.exp(lp); // P(Bin < k+1)
    if (next > gamma) return k;
    cdf = next;
    lp += Math.log(n - k) - Math.log(k + 1) + lr;
    k++;
  }
  return n;
}
