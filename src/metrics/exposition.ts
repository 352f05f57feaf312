/**
 * What `GET /metrics` on the control listener exports: the controller's view of every service plus the
 * gateway's merged traffic counters. Gateway counters are already totals (monotonic for the gateway
 * master's life, see StatsReport), so each scrape writes them as they are; a restart of the whole gateway
 * looks like a counter reset to Prometheus.
 *
 * Pure: `renderMetrics` takes a snapshot and returns the text, so it is tested without a cluster.
 */

import { GRPC_CODES } from '../config/keys.ts';
import type { ServicePhase } from '../core/model.ts';
import {
  LATENCY_BUCKETS_SECONDS,
  type MethodCounts,
  type MethodName,
  type StatsReport,
} from '../gateway/protocol.ts';
import { CUTOVER_VERSION } from '../util/version.ts';
import {
  type FamilyDefinition,
  families,
  histogramSamples,
  type MetricFamily,
  writeExposition,
} from './text.ts';

const PHASES: readonly ServicePhase[] = ['Healthy', 'Progressing', 'Paused', 'Degraded', 'Aborted'];
const CODE_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'none', 'other'] as const;
const MIRROR_CODE_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
const UPSTREAM_ERROR_KINDS = ['connect', 'reset', 'timeout', 'other'] as const;
const INSTANCE_STATES = ['starting', 'ready', 'draining', 'backoff'] as const;
const ROLES = ['stable', 'canary', 'preview'] as const;

type InstanceState = (typeof INSTANCE_STATES)[number];

/** gRPC status number -> its name (the `grpc_code` label). */
const GRPC_CODE_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(GRPC_CODES).map(([name, n]) => [String(n), name]),
);

/** What the exposition needs of one service's status (the API's `ServiceStatus` has all of it). */
export interface ServiceSnapshot {
  name: string;
  phase: ServicePhase;
  /** Canary: current split in percent. */
  weights?: { canary: number };
  roles: Partial<Record<(typeof ROLES)[number], { revision: number; version: string }>>;
  instances: ReadonlyArray<{ id: string; revision: number; state: InstanceState; restarts: number }>;
}

export interface MetricsInput {
  /** The controller's status of every service. */
  services: readonly ServiceSnapshot[];
  /** The gateway's merged counters; null when the gateway did not answer. */
  gateway: StatsReport | null;
}

const BUILD: FamilyDefinition = [
  'cutover_build_info',
  'gauge',
  'Cutover build: always 1, labels carry the versions.',
];
const GATEWAY_UP: FamilyDefinition = [
  'cutover_gateway_up',
  'gauge',
  'Whether the gateway answered the controller for this scrape.',
];

/** The controller's view, in exposition order. */
const CONTROLLER_FAMILIES = {
  phase: [
    'cutover_rollout_phase',
    'gauge',
    'Phase of the service (1 for the current phase, 0 for the others).',
  ],
  weight: [
    'cutover_canary_weight_percent',
    'gauge',
    'Share of traffic (0-100) the canary gets now; 0 without a canary.',
  ],
  revisionInfo: [
    'cutover_revision_info',
    'gauge',
    'Revisions with a role now (stable, canary, preview): always 1.',
  ],
  restarts: [
    'cutover_instance_restarts_total',
    'counter',
    'Restarts of an instance process by the supervisor (crash or failed liveness).',
  ],
  instances: ['cutover_instances', 'gauge', 'Instances by revision and state.'],
} as const satisfies Record<string, FamilyDefinition>;

/** The gateway's counters, in exposition order. */
const GATEWAY_FAMILIES = {
  workers: ['cutover_gateway_workers', 'gauge', 'Gateway worker processes running.'],
  workerExits: [
    'cutover_gateway_worker_exits_total',
    'counter',
    'Gateway workers that exited (and were re-forked) since the gateway started.',
  ],
  requests: [
    'cutover_requests_total',
    'counter',
    'Client requests finished on an instance of the revision (the last one tried), by method and status class of the response (none: the client left before a response head).',
  ],
  duration: [
    'cutover_request_duration_seconds',
    'histogram',
    'Time from request head received to response end, requests that got a response.',
  ],
  gatewayErrors: [
    'cutover_gateway_errors_total',
    'counter',
    'Gateway-generated 502/503/504 responses for requests assigned to an instance of the revision.',
  ],
  unavailable: [
    'cutover_unavailable_responses_total',
    'counter',
    'Gateway-generated 503 responses because no (preview) instance was ready.',
  ],
  upstreamErrors: [
    'cutover_upstream_errors_total',
    'counter',
    'Failed attempts to get a response from an instance, by kind (connect, reset, timeout, other).',
  ],
  retries: ['cutover_retries_total', 'counter', 'Requests sent again after a failed attempt.'],
  ejections: [
    'cutover_ejections_total',
    'counter',
    'Times an instance was ejected, after consecutive connect failures or by outlierDetection (counted per gateway worker).',
  ],
  ejected: [
    'cutover_instance_ejected',
    'gauge',
    'Whether the instance is ejected now in at least one gateway worker (1) or in rotation (0).',
  ],
  inflight: [
    'cutover_inflight_requests',
    'gauge',
    'Requests and WebSocket connections in flight on the instance.',
  ],
  mirror: [
    'cutover_mirror_requests_total',
    'counter',
    'Mirrored copies of requests answered by a canary instance, by status class.',
  ],
  mirrorErrors: ['cutover_mirror_errors_total', 'counter', 'Mirrored copies that got no complete response.'],
  mirrorSkipped: [
    'cutover_mirror_skipped_total',
    'counter',
    'Requests sampled for mirroring but not copied (body too large, too many in flight, instance gone).',
  ],
  faults: [
    'cutover_gateway_faults_total',
    'counter',
    'Requests the gateway faulted on purpose (route faults, rollback drills): kind abort (answered by the gateway, also counted in the status classes) or delay.',
  ],
  limited: [
    'cutover_gateway_limited_total',
    'counter',
    'Requests a limit turned away before they reached an instance of the revision: limit rate (429, by key class), concurrency (503 after the queue) or connections (429 beyond maxConnectionsPerClient). Not errors of the revision.',
  ],
  grpcCalls: [
    'cutover_grpc_calls_total',
    'counter',
    'gRPC calls (protocol: grpc services) that an instance of the revision ended, by grpc-status.',
  ],
  grpcFailures: [
    'cutover_grpc_failures_total',
    'counter',
    'gRPC calls that ended with one of the service grpc.failureCodes (counted as errors by analysis).',
  ],
  grpcDrained: [
    'cutover_grpc_drained_calls_total',
    'counter',
    'gRPC calls the gateway ended with UNAVAILABLE because their instance was drained (drainTimeout).',
  ],
} as const satisfies Record<string, FamilyDefinition>;

/** The Prometheus text (format 0.0.4) of a snapshot. */
export function renderMetrics(input: MetricsInput): string {
  const { build, up } = families({ build: BUILD, up: GATEWAY_UP });
  build.samples.push({ labels: { version: CUTOVER_VERSION, node_version: process.version }, value: 1 });
  const gw = input.gateway;
  up.samples.push({ labels: {}, value: gw === null ? 0 : 1 });
  return writeExposition([
    build,
    ...controllerFamilies(input.services),
    up,
    ...(gw === null ? [] : gatewayFamilies(gw)),
  ]);
}

function controllerFamilies(services: readonly ServiceSnapshot[]): MetricFamily[] {
  const f = families(CONTROLLER_FAMILIES);
  for (const s of services) {
    const service = s.name;
    for (const p of PHASES)
      f.phase.samples.push({ labels: { service, phase: p }, value: s.phase === p ? 1 : 0 });
    f.weight.samples.push({ labels: { service }, value: s.weights?.canary ?? 0 });
    for (const role of ROLES) {
      const r = s.roles[role];
      if (r !== undefined) {
        const labels = { service, revision: r.revision, version: r.version, role };
        f.revisionInfo.samples.push({ labels, value: 1 });
      }
    }
    const byRevision = new Map<number, Record<InstanceState, number>>();
    for (const i of s.instances) {
      f.restarts.samples.push({
        labels: { service, instance: i.id, revision: i.revision },
        value: i.restarts,
      });
      let c = byRevision.get(i.revision);
      if (c === undefined) {
        c = { starting: 0, ready: 0, draining: 0, backoff: 0 };
        byRevision.set(i.revision, c);
      }
      c[i.state]++;
    }
    for (const [revision, c] of byRevision) {
      for (const state of INSTANCE_STATES) {
        f.instances.samples.push({ labels: { service, revision, state }, value: c[state] });
      }
    }
  }
  return Object.values(f);
}

function gatewayFamilies(gw: StatsReport): MetricFamily[] {
  const f = families(GATEWAY_FAMILIES);
  f.workers.samples.push({ labels: {}, value: gw.workers });
  f.workerExits.samples.push({ labels: {}, value: gw.exitedWorkers ?? 0 });
  for (const [service, s] of Object.entries(gw.services)) {
    f.unavailable.samples.push({ labels: { service }, value: s.errors });
    f.retries.samples.push({ labels: { service }, value: s.retries ?? 0 });
    for (const [instance, i] of Object.entries(s.instances ?? {})) {
      f.ejections.samples.push({ labels: { service, instance }, value: i.ejections });
      f.ejected.samples.push({ labels: { service, instance }, value: i.ejected === true ? 1 : 0 });
      f.inflight.samples.push({ labels: { service, instance }, value: i.inflight });
    }
    for (const [revision, r] of Object.entries(s.revisions)) {
      const base = { service, revision, version: r.version ?? '', role: r.role };
      for (const [method, m] of Object.entries(r.methods ?? {}) as Array<[MethodName, MethodCounts]>) {
        for (const cc of CODE_CLASSES) {
          f.requests.samples.push({ labels: { ...base, method, code_class: cc }, value: m[cc] });
        }
      }
      if (r.latencyBuckets !== undefined) {
        const series = {
          labels: base,
          buckets: r.latencyBuckets,
          sum: r.latencyMsSum / 1000,
          count: r.latencyCount,
        };
        f.duration.samples.push(...histogramSamples(LATENCY_BUCKETS_SECONDS, series));
      }
      f.gatewayErrors.samples.push({ labels: { service, revision }, value: r.errors });
      const e = r.upstreamErrors;
      if (e !== undefined) {
        for (const kind of UPSTREAM_ERROR_KINDS) {
          f.upstreamErrors.samples.push({ labels: { service, revision, kind }, value: e[kind] });
        }
      }
      const mi = r.mirror;
      if (mi.sent + mi.skipped > 0) {
        for (const cc of MIRROR_CODE_CLASSES) {
          f.mirror.samples.push({ labels: { service, revision, code_class: cc }, value: mi.status[cc] });
        }
        f.mirrorErrors.samples.push({ labels: { service, revision }, value: mi.errors });
        f.mirrorSkipped.samples.push({ labels: { service, revision }, value: mi.skipped });
      }
      if (r.faults !== undefined) {
        f.faults.samples.push({ labels: { service, revision, kind: 'abort' }, value: r.faults.aborted });
        f.faults.samples.push({ labels: { service, revision, kind: 'delay' }, value: r.faults.delayed });
      }
      const l = r.limited;
      if (l !== undefined) {
        f.limited.samples.push({
          labels: { service, revision, limit: 'rate', key: l.rateKey },
          value: l.rate,
        });
        f.limited.samples.push({
          labels: { service, revision, limit: 'concurrency', key: '' },
          value: l.concurrency,
        });
        f.limited.samples.push({
          labels: { service, revision, limit: 'connections', key: 'ip' },
          value: l.connections,
        });
      }
      const g = r.grpc;
      if (g !== undefined) {
        for (const [code, n] of Object.entries(g.byCode)) {
          const grpc_code = GRPC_CODE_NAMES.get(code) ?? code;
          f.grpcCalls.samples.push({ labels: { service, revision, grpc_code }, value: n });
        }
        f.grpcFailures.samples.push({ labels: { service, revision }, value: g.failures });
        f.grpcDrained.samples.push({ labels: { service, revision }, value: g.drained });
      }
    }
  }
  return Object.values(f);
}
