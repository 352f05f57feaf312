import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_BUCKETS_SECONDS, type RevisionStats } from '../gateway/protocol.ts';
import { revisionCounts } from './gateway.ts';

function revision(over: Partial<RevisionStats>): RevisionStats {
  const status = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  return {
    role: 'canary',
    version: 'v2',
    methods: {},
    latencyBuckets: LATENCY_BUCKETS_SECONDS.map(() => 0).concat(0),
    upstreamErrors: { connect: 0, reset: 0, timeout: 0, other: 0 },
    requests: 0,
    status,
    errors: 0,
    latencyMsSum: 0,
    latencyCount: 0,
    mirror: { sent: 0, skipped: 0, status, errors: 0, latencyMsSum: 0, latencyCount: 0 },
    ...over,
  };
}

test('gRPC calls ended with a failure code count as errors beside the 5xx responses', () => {
  const r = revision({
    requests: 10,
    status: { '2xx': 9, '3xx': 0, '4xx': 0, '5xx': 1 },
    grpc: { calls: 9, failures: 3, byCode: { '0': 6, '14': 3 }, drained: 2 },
  });
  const c = revisionCounts(r);
  assert.equal(c.requests, 10);
  assert.equal(c.errors, 4);
});

test('a revision without gRPC calls has only its 5xx as errors', () => {
  const c = revisionCounts(revision({ requests: 4, status: { '2xx': 3, '3xx': 0, '4xx': 0, '5xx': 1 } }));
  assert.equal(c.errors, 1);
});
