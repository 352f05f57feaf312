/**
 * Per-worker traffic counters behind `GET /stats` (see `StatsReport` in protocol.ts). The hot path only
 * increments plain numbers on an object it already holds (`Upstream.stats`); reports are built on demand.
 * Every field is a count (or a sum), so reports of several workers add up exactly (`addStats`).
 */
import {
  type GrpcStats,
  LATENCY_BUCKETS_SECONDS,
  METHODS,
  type RevisionStats,
  type ServiceStats,
  type StatusCounts,
  type UpstreamRole,
} from './protocol.ts';

/** Index = status / 100 (0..9); only 2..5 are reported. */
function newClasses(): number[] {
  return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
}

export function statusClass(status: number): number {
  const c = (status / 100) | 0;
  return c >= 0 && c <= 9 ? c : 0;
}

/** Bucket bounds in milliseconds (performance.now() units). */
const BOUNDS_MS: readonly number[] = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);
const N_BUCKETS = BOUNDS_MS.length + 1;

/** The histogram bucket of a latency in ms (the last index is +Inf). */
export function latencyBucket(ms: number): number {
  const b = BOUNDS_MS;
  const n = b.length;
  let i = 0;
  while (i < n && ms > b[i]) i++;
  return i;
}

/** Index into METHODS; `other` for anything unusual. */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'PATCH':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return 7;
  }
}

/** Slot of a (method, class) pair in `RevisionCounters.byMethod`; class 0 = no response head sent. */
export function methodSlot(method: string, cls: number): number {
  return methodIndex(method) * 10 + cls;
}

export const UPSTREAM_CONNECT = 0;
export const UPSTREAM_RESET = 1;
export const UPSTREAM_TIMEOUT = 2;
export const UPSTREAM_OTHER = 3;

export class RevisionCounters {
  role: UpstreamRole;
  version: string;
  revision = 0;
  /** The service counters this belongs to (null for detached counters). */
  owner: ServiceCounters | null = null;
  requests = 0;
  readonly status = newClasses();
  /** METHODS.length x 10 status classes (class 0 = no response). */
  readonly byMethod: number[] = new Array<number>(METHODS.length * 10).fill(0);
  readonly latencyBuckets: number[] = new Array<number>(N_BUCKETS).fill(0);
  /** connect, reset, timeout, other (UPSTREAM_* indexes). */
  readonly upstreamErrors = [0, 0, 0, 0];
  errors = 0;
  latencyMsSum = 0;
  latencyCount = 0;
  mirrorSent = 0;
  mirrorSkipped = 0;
  readonly mirrorStatus = newClasses();
  mirrorErrors = 0;
  mirrorLatencyMsSum = 0;
  mirrorLatencyCount = 0;
  /** gRPC calls by grpc-status 0..16 (null until the first one: HTTP revisions carry nothing). */
  grpcByCode: number[] | null = null;
  grpcFailures = 0;
  grpcDrained = 0;
  /** Injected faults (faults.ts): answered by the gateway, and held before going on. */
  faultAborted = 0;
  faultDelayed = 0;
  /** Turned away by `limits.rate` (429) and `limits.maxInFlightPerInstance` (503): not requests of the revision. */
  limitedRate = 0;
  limitedConcurrency = 0;
  /** Turned away by `limits.maxConnectionsPerClient` (429, connection closed). */
  limitedConnections = 0;
  /** The rate limit's key class (`ip`, `header`, ...) of the last limited request. */
  rateKey = '';

  constructor(role: UpstreamRole, version = '') {
    this.role = role;
    this.version = version;
  }
}

/**
 * Counts one finished request of a revision (`status` 0: no response head was sent); returns its status
 * class, which outlier detection reads.
 */
export function countAnswer(
  r: RevisionCounters,
  method: string,
  status: number,
  ms: number,
  error: boolean,
): number {
  r.requests++;
  const cls = status === 0 ? 0 : statusClass(status);
  if (status !== 0) {
    r.status[cls]++;
    r.latencyMsSum += ms;
    r.latencyCount++;
    r.latencyBuckets[latencyBucket(ms)]++;
  }
  r.byMethod[methodSlot(method, cls)]++;
  if (error) r.errors++;
  return cls;
}

/** Counts a call's grpc-status (0..16; anything else is UNKNOWN, as gRPC clients read it). */
export function countGrpcStatus(r: RevisionCounters, code: number, failure: readonly boolean[]): void {
  const c = code >= 0 && code <= 16 ? code : GRPC_UNKNOWN;
  if (r.grpcByCode === null) r.grpcByCode = new Array<number>(17).fill(0);
  r.grpcByCode[c]++;
  if (failure[c]) r.grpcFailures++;
}

const GRPC_UNKNOWN = 2;

export class ServiceCounters {
  readonly name: string;
  /** Gateway errors without an instance to attribute them to. */
  errors = 0;
  retries = 0;
  readonly revisions = new Map<number, RevisionCounters>();
  /** Ejections by instance id (pruned when a report no longer lists the instance). */
  readonly ejections = new Map<string, number>();

  constructor(name = '') {
    this.name = name;
  }

  revision(revision: number, role: UpstreamRole, version = ''): RevisionCounters {
    let r = this.revisions.get(revision);
    if (r === undefined) {
      r = new RevisionCounters(role, version);
      r.revision = revision;
      r.owner = this;
      this.revisions.set(revision, r);
    } else {
      r.role = role;
      if (version !== '') r.version = version;
    }
    return r;
  }

  ejected(instance: string): void {
    this.ejections.set(instance, (this.ejections.get(instance) ?? 0) + 1);
  }
}

/** What a report needs to know of a live instance. */
export interface InstanceView {
  readonly instance: string;
  readonly inflight: number;
  readonly stats: RevisionCounters;
  /** Epoch ms until which the instance is ejected (0: not ejected). */
  readonly ejectedUntil: number;
}

export class GatewayStats {
  readonly services = new Map<string, ServiceCounters>();

  service(name: string): ServiceCounters {
    let s = this.services.get(name);
    if (s === undefined) {
      s = new ServiceCounters(name);
      this.services.set(name, s);
    }
    return s;
  }

  /** The report of this worker; `instances` are the upstreams in the table plus retired busy ones. */
  report(instances: Iterable<InstanceView> = []): Record<string, ServiceStats> {
    const out: Record<string, ServiceStats> = {};
    for (const [name, s] of this.services) {
      const revisions: ServiceStats['revisions'] = {};
      for (const [rev, r] of s.revisions) revisions[String(rev)] = revisionReport(r);
      out[name] = { errors: s.errors, retries: s.retries, instances: {}, revisions };
    }
    const seen = new Set<string>();
    const now = Date.now();
    for (const up of instances) {
      const owner = up.stats.owner;
      if (owner === null) continue;
      const svc = out[owner.name];
      if (svc === undefined) continue;
      seen.add(up.instance);
      const ejected = up.ejectedUntil > now;
      const existing = svc.instances[up.instance];
      if (existing !== undefined) {
        existing.inflight += up.inflight;
        if (ejected) existing.ejected = true;
        continue;
      }
      svc.instances[up.instance] = {
        revision: up.stats.revision,
        inflight: up.inflight,
        ejections: owner.ejections.get(up.instance) ?? 0,
        ...(ejected ? { ejected } : {}),
      };
    }
    for (const s of this.services.values()) {
      for (const id of s.ejections.keys()) if (!seen.has(id)) s.ejections.delete(id);
    }
    return out;
  }
}

function revisionReport(r: RevisionCounters): RevisionStats {
  const methods: RevisionStats['methods'] = {};
  const m = r.byMethod;
  for (let i = 0; i < METHODS.length; i++) {
    const o = i * 10;
    let total = 0;
    for (let c = 0; c < 10; c++) total += m[o + c];
    if (total === 0) continue;
    methods[METHODS[i]] = {
      '2xx': m[o + 2],
      '3xx': m[o + 3],
      '4xx': m[o + 4],
      '5xx': m[o + 5],
      none: m[o],
      other: m[o + 1] + m[o + 6] + m[o + 7] + m[o + 8] + m[o + 9],
    };
  }
  const e = r.upstreamErrors;
  return {
    role: r.role,
    version: r.version,
    requests: r.requests,
    status: counts(r.status),
    methods,
    errors: r.errors,
    latencyMsSum: round3(r.latencyMsSum),
    latencyCount: r.latencyCount,
    latencyBuckets: [...r.latencyBuckets],
    upstreamErrors: {
      connect: e[UPSTREAM_CONNECT],
      reset: e[UPSTREAM_RESET],
      timeout: e[UPSTREAM_TIMEOUT],
      other: e[UPSTREAM_OTHER],
    },
    mirror: {
      sent: r.mirrorSent,
      skipped: r.mirrorSkipped,
      status: counts(r.mirrorStatus),
      errors: r.mirrorErrors,
      latencyMsSum: round3(r.mirrorLatencyMsSum),
      latencyCount: r.mirrorLatencyCount,
    },
    ...(r.grpcByCode === null && r.grpcDrained === 0 ? {} : { grpc: grpcReport(r) }),
    ...(r.faultAborted === 0 && r.faultDelayed === 0
      ? {}
      : { faults: { aborted: r.faultAborted, delayed: r.faultDelayed } }),
    ...(r.limitedRate + r.limitedConcurrency + r.limitedConnections === 0
      ? {}
      : {
          limited: {
            rate: r.limitedRate,
            concurrency: r.limitedConcurrency,
            connections: r.limitedConnections,
            rateKey: r.rateKey,
          },
        }),
  };
}

function grpcReport(r: RevisionCounters): GrpcStats {
  const byCode: Record<string, number> = {};
  let calls = 0;
  const codes = r.grpcByCode ?? [];
  for (let c = 0; c < codes.length; c++) {
    if (codes[c] === 0) continue;
    byCode[String(c)] = codes[c];
    calls += codes[c];
  }
  return { calls, failures: r.grpcFailures, byCode, drained: r.grpcDrained };
}

function counts(c: readonly number[]): StatusCounts {
  return { '2xx': c[2], '3xx': c[3], '4xx': c[4], '5xx': c[5] };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
