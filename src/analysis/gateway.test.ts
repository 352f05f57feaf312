import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_BUCKETS_SECONDS, type RevisionStats } from '../gateway/protocol.ts';
import { revisionCounts, withPeers } from './gateway.ts';

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

test("a fleet's sample adds every other host's counts of the same rollout to this host's", () => {
  const bucketsWith = (i: number, n: number) =>
    LATENCY_BUCKETS_SECONDS.map((_, k) => (k === i ? n : 0)).concat(0);
  const local = {
    canary: revisionCounts(
      revision({
        requests: 10,
        status: { '2xx': 9, '3xx': 0, '4xx': 0, '5xx': 1 },
        latencyBuckets: bucketsWith(2, 10),
      }),
    ),
    stable: revisionCounts(revision({ requests: 100 })),
  };
  const peers = [
    {
      to: revision({
        requests: 30,
        status: { '2xx': 27, '3xx': 0, '4xx': 0, '5xx': 3 },
        latencyBuckets: bucketsWith(2, 30),
      }),
      stable: revision({ requests: 200, status: { '2xx': 199, '3xx': 0, '4xx': 0, '5xx': 1 } }),
    },
    // A host that has not served its canary yet counts as zeros.
    { stable: revision({ requests: 50 }) },
  ];
  const s = withPeers(local, peers);
  assert.equal(s.canary.requests, 40);
  assert.equal(s.canary.errors, 4);
  assert.equal(s.canary.latency?.counts[2], 40);
  assert.equal(s.stable?.requests, 350);
  assert.equal(s.stable?.errors, 1);
  // No baseline (after a blue-green switch): the peers' stable counts are not judged either.
  const alone = withPeers({ canary: local.canary }, peers);
  assert.equal(alone.stable, undefined);
  assert.equal(alone.canary.requests, 40);
  assert.deepEqual(withPeers(local, []), local);
});
