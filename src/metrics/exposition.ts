/**
 * Prometheus exposition (`GET /metrics` on the control listener): the gateway's merged traffic counters
 * plus the controller's view of every service, built with prom-client into a fresh registry per scrape.
 * Gateway counters are already totals (monotonic for the gateway master's life, see StatsReport), so each
 * scrape sets them as they are; a restart of the whole gateway looks like a counter reset to Prometheus.
 *
 * Pure: `renderMetrics` takes snapshots and returns the text, so it is tested without a cluster.
 */

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServiceStatus } from '../api/status.ts';
import type { ServicePhase } from '../core/model.ts';
import {
  LATENCY_BUCKETS_SECONDS,
  type MethodCounts,
  type MethodName,
  type StatsReport,
} from '../gateway/protocol.ts';
import { CUTOVER_VERSION } from '../util/version.ts';

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

const PHASES: readonly ServicePhase[] = ['Healthy', 'Progressing', 'Paused', 'Degraded', 'Aborted'];
const CODE_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'none', 'other'] as const;
const INSTANCE_STATES = ['starting', 'ready', 'draining', 'backoff'] as const;

export interface MetricsInput {
  /** The controller's status of every service. */
  services: ServiceStatus[];
  /** The gateway's merged counters; null when the gateway did not answer. */
  gateway: StatsReport | null;
}

type Labels = Record<string, string | number>;

interface HistogramSeries {
  labels: Labels;
  /** Non-cumulative counts per LATENCY_BUCKETS_SECONDS bucket, then +Inf. */
  buckets: readonly number[];
  sum: number;
  count: number;
}

interface PromValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

/**
 * A histogram whose buckets come from a snapshot (counts kept by the gateway workers) instead of
 * observe(): prom-client still renders HELP/TYPE and the `_bucket`/`_sum`/`_count` lines.
 */
class SnapshotHistogram extends Histogram<string> {
  readonly series: HistogramSeries[] = [];
  /** Set by prom-client's constructor (not in its typings). */
  declare readonly name: string;
  declare readonly help: string;

  #values(): PromValue[] {
    const name = this.name;
    const out: PromValue[] = [];
    for (const s of this.series) {
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
        cumulative += s.buckets[i] ?? 0;
        out.push({
          metricName: `${name}_bucket`,
          labels: { ...s.labels, le: LATENCY_BUCKETS_SECONDS[i] },
          value: cumulative,
        });
      }
      out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      out.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
      out.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
    }
    return out;
  }

  /** What prom-client's Registry renders. */
  async getForPromString(): Promise<{ name: string; help: string; type: string; values: PromValue[] }> {
    return { name: this.name, help: this.help, type: 'histogram', values: this.#values() };
  }

  override async get(): ReturnType<Histogram<string>['get']> {
    const base = await super.get();
    return { ...base, values: this.#values() };
  }
}

/** Renders the Prometheus text (format 0.0.4). */
export async function renderMetrics(input: MetricsInput): Promise<string> {
  const reg = new Registry();
  const registers = [reg];
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames, registers });

  gauge('cutover_build_info', 'Cutover build: always 1, labels carry the versions.', [
    'version',
    'node_version',
  ]).set({ version: CUTOVER_VERSION, node_version: process.version }, 1);

  // ---- controller state -----------------------------------------------------------------------------
  const phase = gauge(
    'cutover_rollout_phase',
    'Phase of the service (1 for the current phase, 0 for the others).',
    ['service', 'phase'],
  );
  const weight = gauge(
    'cutover_canary_weight_percent',
    'Share of traffic (0-100) the canary gets now; 0 without a canary.',
    ['service'],
  );
  const revInfo = gauge(
    'cutover_revision_info',
    'Revisions with a role now (stable, canary, preview): always 1.',
    ['service', 'revision', 'version', 'role'],
  );
  const restarts = counter(
    'cutover_instance_restarts_total',
    'Restarts of an instance process by the supervisor (crash or failed liveness).',
    ['service', 'instance', 'revision'],
  );
  const instances = gauge('cutover_instances', 'Instances by revision and state.', [
    'service',
    'revision',
    'state',
  ]);
  for (const s of input.services) {
    for (const p of PHASES) phase.set({ service: s.name, phase: p }, s.phase === p ? 1 : 0);
    weight.set({ service: s.name }, s.weights?.canary ?? 0);
    for (const role of ['stable', 'canary', 'preview'] as const) {
      const r = s.roles[role];
      if (r !== undefined)
        revInfo.set({ service: s.name, revision: r.revision, version: r.version, role }, 1);
    }
    const counts = new Map<number, Record<string, number>>();
    for (const i of s.instances) {
      restarts.inc({ service: s.name, instance: i.id, revision: i.revision }, i.restarts);
      let c = counts.get(i.revision);
      if (c === undefined) {
        c = { starting: 0, ready: 0, draining: 0, backoff: 0 };
        counts.set(i.revision, c);
      }
      c[i.state]++;
    }
    for (const [rev, c] of counts) {
      for (const st of INSTANCE_STATES) instances.set({ service: s.name, revision: rev, state: st }, c[st]);
    }
  }

  // ---- gateway ----------------------------------------------------------------------------------------
  const gw = input.gateway;
  gauge('cutover_gateway_up', 'Whether the gateway answered the controller for this scrape.', []).set(
    gw === null ? 0 : 1,
  );
  if (gw !== null) {
    gauge('cutover_gateway_workers', 'Gateway worker processes running.', []).set(gw.workers);
    counter(
      'cutover_gateway_worker_exits_total',
      'Gateway workers that exited (and were re-forked) since the gateway started.',
      [],
    ).inc(gw.exitedWorkers ?? 0);
    renderGateway(gw, counter, gauge, registers);
  }
  return reg.metrics();
}

function renderGateway(
  gw: StatsReport,
  counter: (name: string, help: string, labelNames: string[]) => Counter<string>,
  gauge: (name: string, help: string, labelNames: string[]) => Gauge<string>,
  registers: Registry[],
): void {
  const requests = counter(
    'cutover_requests_total',
    'Client requests finished on an instance of the revision (the last one tried), by method and status class of the response (none: the client left before a response head).',
    ['service', 'revision', 'version', 'role', 'method', 'code_class'],
  );
  const duration = new SnapshotHistogram({
    name: 'cutover_request_duration_seconds',
    help: 'Time from request head received to response end, requests that got a response.',
    labelNames: ['service', 'revision', 'version', 'role'],
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers,
  });
  const gatewayErrors = counter(
    'cutover_gateway_errors_total',
    'Gateway-generated 502/503/504 responses for requests assigned to an instance of the revision.',
    ['service', 'revision'],
  );
  const unavailable = counter(
    'cutover_unavailable_responses_total',
    'Gateway-generated 503 responses because no (preview) instance was ready.',
    ['service'],
  );
  const upstreamErrors = counter(
    'cutover_upstream_errors_total',
    'Failed attempts to get a response from an instance, by kind (connect, reset, timeout, other).',
    ['service', 'revision', 'kind'],
  );
  const retries = counter('cutover_retries_total', 'Requests sent again after a failed attempt.', [
    'service',
  ]);
  const ejections = counter(
    'cutover_ejections_total',
    'Times an instance was ejected after consecutive connect failures (counted per gateway worker).',
    ['service', 'instance'],
  );
  const inflight = gauge(
    'cutover_inflight_requests',
    'Requests and WebSocket connections in flight on the instance.',
    ['service', 'instance'],
  );
  const mirror = counter(
    'cutover_mirror_requests_total',
    'Mirrored copies of requests answered by a canary instance, by status class.',
    ['service', 'revision', 'code_class'],
  );
  const mirrorErrors = counter(
    'cutover_mirror_errors_total',
    'Mirrored copies that got no complete response.',
    ['service', 'revision'],
  );
  const mirrorSkipped = counter(
    'cutover_mirror_skipped_total',
    'Requests sampled for mirroring but not copied (body too large, too many in flight, instance gone).',
    ['service', 'revision'],
  );
  for (const [service, s] of Object.entries(gw.services)) {
    unavailable.inc({ service }, s.errors);
    retries.inc({ service }, s.retries ?? 0);
    for (const [instance, i] of Object.entries(s.instances ?? {})) {
      ejections.inc({ service, instance }, i.ejections);
      inflight.set({ service, instance }, i.inflight);
    }
    for (const [revision, r] of Object.entries(s.revisions)) {
      const base = { service, revision, version: r.version ?? '', role: r.role };
      for (const [method, m] of Object.entries(r.methods ?? {}) as Array<[MethodName, MethodCounts]>) {
        for (const cc of CODE_CLASSES) requests.inc({ ...base, method, code_class: cc }, m[cc]);
      }
      if (r.latencyBuckets !== undefined) {
        duration.series.push({
          labels: base,
          buckets: r.latencyBuckets,
          sum: r.latencyMsSum / 1000,
          count: r.latencyCount,
        });
      }
      gatewayErrors.inc({ service, revision }, r.errors);
      const e = r.upstreamErrors;
      if (e !== undefined) {
        for (const kind of ['connect', 'reset', 'timeout', 'other'] as const) {
          upstreamErrors.inc({ service, revision, kind }, e[kind]);
        }
      }
      const mi = r.mirror;
      if (mi.sent + mi.skipped > 0) {
        for (const cc of ['2xx', '3xx', '4xx', '5xx'] as const) {
          mirror.inc({ service, revision, code_class: cc }, mi.status[cc]);
        }
        mirrorErrors.inc({ service, revision }, mi.errors);
        mirrorSkipped.inc({ service, revision }, mi.skipped);
      }
    }
  }
}
