/**
 * What `GET /metrics` on the control listener exports: the controller's view of every service plus the
 * gateway's merged traffic counters. Gateway counters are already totals (monotonic for the gateway
 * master's life, see StatsReport), so each scrape writes them as they are; a restart of the whole gateway
 * looks like a counter reset to Prometheus.
 *
 * Pure: `renderMetrics` takes a snapshot and returns the text, so it is tested without a cluster.
 */

import type { ServicePhase } from '../core/model.ts';
import {
  LATENCY_BUCKETS_SECONDS,
  type MethodCounts,
  type MethodName,
  type StatsReport,
} from '../gateway/protocol.ts';
import { CUTOVER_VERSION } from '../util/version.ts';
import { family, histogramSamples, type MetricFamily, writeExposition } from './text.ts';

export { CONTENT_TYPE } from './text.ts';

const PHASES: readonly ServicePhase[] = ['Healthy', 'Progressing', 'Paused', 'Degraded', 'Aborted'];
const CODE_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'none', 'other'] as const;
const MIRROR_CODE_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
const UPSTREAM_ERROR_KINDS = ['connect', 'reset', 'timeout', 'other'] as const;
const INSTANCE_STATES = ['starting', 'ready', 'draining', 'backoff'] as const;
const ROLES = ['stable', 'canary', 'preview'] as const;

type InstanceState = (typeof INSTANCE_STATES)[number];

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

/** The Prometheus text (format 0.0.4) of a snapshot. */
export function renderMetrics(input: MetricsInput): string {
  const build = family('cutover_build_info', 'gauge', 'Cutover build: always 1, labels carry the versions.');
  build.samples.push({ labels: { version: CUTOVER_VERSION, node_version: process.version }, value: 1 });
  const gw = input.gateway;
  const up = family(
    'cutover_gateway_up',
    'gauge',
    'Whether the gateway answered the controller for this scrape.',
  );
  up.samples.push({ labels: {}, value: gw === null ? 0 : 1 });
  return writeExposition([
    build,
    ...controllerFamilies(input.services),
    up,
    ...(gw === null ? [] : gatewayFamilies(gw)),
  ]);
}

function controllerFamilies(services: readonly ServiceSnapshot[]): MetricFamily[] {
  const phase = family(
    'cutover_rollout_phase',
    'gauge',
    'Phase of the service (1 for the current phase, 0 for the others).',
  );
  const weight = family(
    'cutover_canary_weight_percent',
    'gauge',
    'Share of traffic (0-100) the canary gets now; 0 without a canary.',
  );
  const revInfo = family(
    'cutover_revision_info',
    'gauge',
    'Revisions with a role now (stable, canary, preview): always 1.',
  );
  const restarts = family(
    'cutover_instance_restarts_total',
    'counter',
    'Restarts of an instance process by the supervisor (crash or failed liveness).',
  );
  const instances = family('cutover_instances', 'gauge', 'Instances by revision and state.');
  for (const s of services) {
    const service = s.name;
    for (const p of PHASES)
      phase.samples.push({ labels: { service, phase: p }, value: s.phase === p ? 1 : 0 });
    weight.samples.push({ labels: { service }, value: s.weights?.canary ?? 0 });
    for (const role of ROLES) {
      const r = s.roles[role];
      if (r !== undefined) {
        revInfo.samples.push({
          labels: { service, revision: r.revision, version: r.version, role },
          value: 1,
        });
      }
    }
    const byRevision = new Map<number, Record<InstanceState, number>>();
    for (const i of s.instances) {
      restarts.samples.push({
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
        instances.samples.push({ labels: { service, revision, state }, value: c[state] });
      }
    }
  }
  return [phase, weight, revInfo, restarts, instances];
}

function gatewayFamilies(gw: StatsReport): MetricFamily[] {
  const workers = family('cutover_gateway_workers', 'gauge', 'Gateway worker processes running.');
  workers.samples.push({ labels: {}, value: gw.workers });
  const workerExits = family(
    'cutover_gateway_worker_exits_total',
    'counter',
    'Gateway workers that exited (and were re-forked) since the gateway started.',
  );
  workerExits.samples.push({ labels: {}, value: gw.exitedWorkers ?? 0 });
  const requests = family(
    'cutover_requests_total',
    'counter',
    'Client requests finished on an instance of the revision (the last one tried), by method and status class of the response (none: the client left before a response head).',
  );
  const duration = family(
    'cutover_request_duration_seconds',
    'histogram',
    'Time from request head received to response end, requests that got a response.',
  );
  const gatewayErrors = family(
    'cutover_gateway_errors_total',
    'counter',
    'Gateway-generated 502/503/504 responses for requests assigned to an instance of the revision.',
  );
  const unavailable = family(
    'cutover_unavailable_responses_total',
    'counter',
    'Gateway-generated 503 responses because no (preview) instance was ready.',
  );
  const upstreamErrors = family(
    'cutover_upstream_errors_total',
    'counter',
    'Failed attempts to get a response from an instance, by kind (connect, reset, timeout, other).',
  );
  const retries = family('cutover_retries_total', 'counter', 'Requests sent again after a failed attempt.');
  const ejections = family(
    'cutover_ejections_total',
    'counter',
    'Times an instance was ejected after consecutive connect failures (counted per gateway worker).',
  );
  const inflight = family(
    'cutover_inflight_requests',
    'gauge',
    'Requests and WebSocket connections in flight on the instance.',
  );
  const mirror = family(
    'cutover_mirror_requests_total',
    'counter',
    'Mirrored copies of requests answered by a canary instance, by status class.',
  );
  const mirrorErrors = family(
    'cutover_mirror_errors_total',
    'counter',
    'Mirrored copies that got no complete response.',
  );
  const mirrorSkipped = family(
    'cutover_mirror_skipped_total',
    'counter',
    'Requests sampled for mirroring but not copied (body too large, too many in flight, instance gone).',
  );
  for (const [service, s] of Object.entries(gw.services)) {
    unavailable.samples.push({ labels: { service }, value: s.errors });
    retries.samples.push({ labels: { service }, value: s.retries ?? 0 });
    for (const [instance, i] of Object.entries(s.instances ?? {})) {
      ejections.samples.push({ labels: { service, instance }, value: i.ejections });
      inflight.samples.push({ labels: { service, instance }, value: i.inflight });
    }
    for (const [revision, r] of Object.entries(s.revisions)) {
      const base = { service, revision, version: r.version ?? '', role: r.role };
      for (const [method, m] of Object.entries(r.methods ?? {}) as Array<[MethodName, MethodCounts]>) {
        for (const cc of CODE_CLASSES) {
          requests.samples.push({ labels: { ...base, method, code_class: cc }, value: m[cc] });
        }
      }
      if (r.latencyBuckets !== undefined) {
        duration.samples.push(
          ...histogramSamples(LATENCY_BUCKETS_SECONDS, {
            labels: base,
            buckets: r.latencyBuckets,
            sum: r.latencyMsSum / 1000,
            count: r.latencyCount,
          }),
        );
      }
      gatewayErrors.samples.push({ labels: { service, revision }, value: r.errors });
      const e = r.upstreamErrors;
      if (e !== undefined) {
        for (const kind of UPSTREAM_ERROR_KINDS) {
          upstreamErrors.samples.push({ labels: { service, revision, kind }, value: e[kind] });
        }
      }
      const mi = r.mirror;
      if (mi.sent + mi.skipped > 0) {
        for (const cc of MIRROR_CODE_CLASSES) {
          mirror.samples.push({ labels: { service, revision, code_class: cc }, value: mi.status[cc] });
        }
        mirrorErrors.samples.push({ labels: { service, revision }, value: mi.errors });
        mirrorSkipped.samples.push({ labels: { service, revision }, value: mi.skipped });
      }
    }
  }
  return [
    workers,
    workerExits,
    requests,
    duration,
    gatewayErrors,
    unavailable,
    upstreamErrors,
    retries,
    ejections,
    inflight,
    mirror,
    mirrorErrors,
    mirrorSkipped,
  ];
}
