import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_BUCKETS_SECONDS, type RevisionStats, type StatsReport } from '../gateway/protocol.ts';
import { trafficRates } from './rates.ts';

function rev(requests: number, fiveXx: number, fastCount: number, slowCount: number): RevisionStats {
  const buckets = LATENCY_BUCKETS_SECONDS.map(() => 0).concat(0);
  buckets[0] = fastCount;
  buckets[buckets.length - 2] = slowCount;
  return {
    role: 'stable',
    version: 'v1',
    methods: {},
    latencyBuckets: buckets,
    upstreamErrors: { connect: 0, reset: 0, timeout: 0, other: 0 },
    requests,
    status: { '1xx': 0, '2xx': requests - fiveXx, '3xx': 0, '4xx': 0, '5xx': fiveXx },
    errors: 0,
    latencyMsSum: 0,
    latencyCount: fastCount + slowCount,
    mirror: { sent: 0, skipped: 0, errors: 0, status: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 } },
  } as unknown as RevisionStats;
}

function report(r: RevisionStats): StatsReport {
  return {
    workers: 1,
    services: {
      web: {
        errors: 0,
        retries: 0,
        instances: { 'web-1-a': { revision: 1, inflight: 3, ejections: 0 } },
        revisions: { '1': r },
      },
    },
  };
}

const fastMs = LATENCY_BUCKETS_SECONDS[0] * 1000;
const slowMs = LATENCY_BUCKETS_SECONDS[LATENCY_BUCKETS_SECONDS.length - 1] * 1000;

const cases: Array<{
  name: string;
  prev?: StatsReport;
  cur: StatsReport;
  windowMs: number;
  want: Record<string, unknown>;
}> = [
  {
    name: 'no earlier reading: no rates yet',
    cur: report(rev(100, 1, 99, 1)),
    windowMs: 0,
    want: { rps: null, errorRate: null, p50Ms: null, p99Ms: null, requests: 100 },
  },
  {
    name: '200 requests in 2 s, 10 failed, 4 slow: 100 rps, 5 %, p50 fast, p99 slow',
    prev: report(rev(100, 0, 100, 0)),
    cur: report(rev(300, 10, 296, 4)),
    windowMs: 2000,
    want: { rps: 100, errorRate: 0.05, p50Ms: fastMs, p99Ms: slowMs, requests: 300 },
  },
  {
    name: 'idle window: 0 rps, no error rate or percentiles',
    prev: report(rev(300, 10, 298, 2)),
    cur: report(rev(300, 10, 298, 2)),
    windowMs: 1000,
    want: { rps: 0, errorRate: null, p50Ms: null, p99Ms: null, requests: 300 },
  },
  {
    name: 'counters went down (gateway restarted): unknown',
    prev: report(rev(300, 10, 298, 2)),
    cur: report(rev(5, 0, 5, 0)),
    windowMs: 1000,
    want: { rps: null, errorRate: null, p50Ms: null, p99Ms: null, requests: 5 },
  },
];

for (const c of cases) {
  test(`trafficRates: ${c.name}`, () => {
    const got = trafficRates(c.prev, c.cur, c.windowMs);
    const revs = got.web.revisions;
    assert.equal(revs.length, 1);
    const { rps, errorRate, p50Ms, p99Ms, requests } = revs[0];
    assert.deepEqual({ rps, errorRate, p50Ms, p99Ms, requests }, c.want);
    assert.deepEqual(got.web.inflight, { 'web-1-a': 3 });
  });
}
