import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_BUCKETS_SECONDS, type RevisionStats, type StatsReport } from '../gateway/protocol.ts';
import { CUTOVER_VERSION } from '../util/version.ts';
import { renderMetrics, type ServiceSnapshot } from './exposition.ts';

const web: ServiceSnapshot = {
  name: 'web',
  phase: 'Progressing',
  roles: { stable: { revision: 1, version: 'v1' }, canary: { revision: 2, version: 'v"2\\' } },
  weights: { canary: 25 },
  instances: [
    { id: 's1', revision: 1, state: 'ready', restarts: 0 },
    { id: 'c1', revision: 2, state: 'starting', restarts: 2 },
  ],
};

function revision(over: Partial<RevisionStats>): RevisionStats {
  const status = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  return {
    role: 'stable',
    version: 'v1',
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

const gateway: StatsReport = {
  workers: 2,
  services: {
    web: {
      errors: 1,
      retries: 0,
      instances: { s1: { revision: 1, inflight: 3, ejections: 2, ejected: true } },
      revisions: {
        '1': revision({
          methods: { GET: { '2xx': 4, '3xx': 0, '4xx': 0, '5xx': 1, none: 0, other: 0 } },
          latencyBuckets: [2, 3].concat(
            LATENCY_BUCKETS_SECONDS.slice(2).map(() => 0),
            [0],
          ),
          latencyMsSum: 7,
          latencyCount: 5,
          limited: { rate: 6, concurrency: 2, connections: 1, rateKey: 'ip' },
        }),
      },
    },
  },
};

const families = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('# TYPE '))
    .map((l) => l.split(' ')[2]);

test('controller and gateway families in a fixed order, with the snapshot values', () => {
  const text = renderMetrics({ services: [web], gateway });
  assert.deepEqual(families(text), [
    'cutover_build_info',
    'cutover_rollout_phase',
    'cutover_canary_weight_percent',
    'cutover_revision_info',
    'cutover_instance_restarts_total',
    'cutover_instances',
    'cutover_gateway_up',
    'cutover_gateway_workers',
    'cutover_gateway_worker_exits_total',
    'cutover_requests_total',
    'cutover_request_duration_seconds',
    'cutover_gateway_errors_total',
    'cutover_unavailable_responses_total',
    'cutover_upstream_errors_total',
    'cutover_retries_total',
    'cutover_ejections_total',
    'cutover_instance_ejected',
    'cutover_inflight_requests',
    'cutover_mirror_requests_total',
    'cutover_mirror_errors_total',
    'cutover_mirror_skipped_total',
    'cutover_gateway_faults_total',
    'cutover_gateway_limited_total',
    'cutover_grpc_calls_total',
    'cutover_grpc_failures_total',
    'cutover_grpc_drained_calls_total',
  ]);
  const lines = new Set(text.split('\n'));
  for (const line of [
    `cutover_build_info{version="${CUTOVER_VERSION}",node_version="${process.version}"} 1`,
    'cutover_rollout_phase{service="web",phase="Progressing"} 1',
    'cutover_gateway_limited_total{service="web",revision="1",limit="rate",key="ip"} 6',
    'cutover_instance_ejected{service="web",instance="s1"} 1',
    'cutover_gateway_limited_total{service="web",revision="1",limit="concurrency",key=""} 2',
    'cutover_gateway_limited_total{service="web",revision="1",limit="connections",key="ip"} 1',
    'cutover_rollout_phase{service="web",phase="Healthy"} 0',
    'cutover_canary_weight_percent{service="web"} 25',
    'cutover_revision_info{service="web",revision="2",version="v\\"2\\\\",role="canary"} 1',
    'cutover_instance_restarts_total{service="web",instance="c1",revision="2"} 2',
    'cutover_instances{service="web",revision="2",state="starting"} 1',
    'cutover_instances{service="web",revision="2",state="ready"} 0',
    'cutover_gateway_up 1',
    'cutover_gateway_workers 2',
    'cutover_gateway_worker_exits_total 0',
    'cutover_requests_total{service="web",revision="1",version="v1",role="stable",method="GET",code_class="5xx"} 1',
    'cutover_request_duration_seconds_bucket{service="web",revision="1",version="v1",role="stable",le="0.001"} 2',
    'cutover_request_duration_seconds_bucket{service="web",revision="1",version="v1",role="stable",le="0.0025"} 5',
    'cutover_request_duration_seconds_bucket{service="web",revision="1",version="v1",role="stable",le="+Inf"} 5',
    'cutover_request_duration_seconds_sum{service="web",revision="1",version="v1",role="stable"} 0.007',
    'cutover_request_duration_seconds_count{service="web",revision="1",version="v1",role="stable"} 5',
    'cutover_unavailable_responses_total{service="web"} 1',
    'cutover_inflight_requests{service="web",instance="s1"} 3',
  ]) {
    assert.ok(lines.has(line), `missing: ${line}\n${text}`);
  }
  assert.ok(!text.includes('cutover_mirror_requests_total{'), 'no mirror samples without mirroring');
  assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'));
});

test('without a gateway: the controller families and cutover_gateway_up 0 only', () => {
  const text = renderMetrics({ services: [web], gateway: null });
  assert.equal(families(text).at(-1), 'cutover_gateway_up');
  assert.equal(families(text).length, 7);
  assert.match(text, /^cutover_gateway_up 0$/m);
});

test('gRPC calls by status name, failures and drained calls of a grpc revision', () => {
  const report: StatsReport = {
    workers: 1,
    services: {
      echo: {
        errors: 0,
        retries: 0,
        instances: {},
        revisions: {
          '3': revision({ grpc: { calls: 5, failures: 2, byCode: { '0': 3, '14': 2 }, drained: 1 } }),
        },
      },
    },
  };
  const text = renderMetrics({ services: [], gateway: report });
  const lines = text.split('\n');
  assert.ok(lines.includes('cutover_grpc_calls_total{service="echo",revision="3",grpc_code="OK"} 3'));
  assert.ok(
    lines.includes('cutover_grpc_calls_total{service="echo",revision="3",grpc_code="UNAVAILABLE"} 2'),
  );
  assert.ok(lines.includes('cutover_grpc_failures_total{service="echo",revision="3"} 2'));
  assert.ok(lines.includes('cutover_grpc_drained_calls_total{service="echo",revision="3"} 1'));
});
