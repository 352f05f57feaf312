/**
 * Sums of the workers' counter reports (the master adds its workers' `GET /stats` answers, and keeps the
 * last report of every worker that exited, so sums stay monotonic). Every field is a count or a sum.
 */
import type {
  InstanceStats,
  MethodCounts,
  MethodName,
  MirrorStats,
  RevisionStats,
  ServiceStats,
  StatusCounts,
  UpstreamErrorCounts,
} from './protocol.ts';
import { round3 } from './stats.ts';

function addGrpc(t: RevisionStats, r: RevisionStats): void {
  const b = r.grpc;
  if (b === undefined) return;
  const a = t.grpc;
  if (a === undefined) {
    t.grpc = structuredClone(b);
    return;
  }
  a.calls += b.calls;
  a.failures += b.failures;
  a.drained += b.drained;
  for (const [code, n] of Object.entries(b.byCode)) a.byCode[code] = (a.byCode[code] ?? 0) + n;
}

function addCounts(a: StatusCounts, b: StatusCounts): void {
  a['2xx'] += b['2xx'];
  a['3xx'] += b['3xx'];
  a['4xx'] += b['4xx'];
  a['5xx'] += b['5xx'];
}

function addMirror(a: MirrorStats, b: MirrorStats): void {
  a.sent += b.sent;
  a.skipped += b.skipped;
  addCounts(a.status, b.status);
  a.errors += b.errors;
  a.latencyMsSum = round3(a.latencyMsSum + b.latencyMsSum);
  a.latencyCount += b.latencyCount;
}

function addMethods(a: RevisionStats['methods'], b: RevisionStats['methods']): void {
  for (const [k, v] of Object.entries(b) as Array<[MethodName, MethodCounts]>) {
    const t = a[k];
    if (t === undefined) {
      a[k] = { ...v };
      continue;
    }
    addCounts(t, v);
    t.none += v.none;
    t.other += v.other;
  }
}

function addErrors(a: UpstreamErrorCounts, b: UpstreamErrorCounts): void {
  a.connect += b.connect;
  a.reset += b.reset;
  a.timeout += b.timeout;
  a.other += b.other;
}

function addRevision(t: RevisionStats, r: RevisionStats): void {
  t.requests += r.requests;
  addCounts(t.status, r.status);
  addMethods(t.methods, r.methods);
  t.errors += r.errors;
  t.latencyMsSum = round3(t.latencyMsSum + r.latencyMsSum);
  t.latencyCount += r.latencyCount;
  const n = Math.min(t.latencyBuckets.length, r.latencyBuckets.length);
  for (let i = 0; i < n; i++) t.latencyBuckets[i] += r.latencyBuckets[i];
  addErrors(t.upstreamErrors, r.upstreamErrors);
  addMirror(t.mirror, r.mirror);
  addGrpc(t, r);
  if (r.faults !== undefined) {
    t.faults = {
      aborted: (t.faults?.aborted ?? 0) + r.faults.aborted,
      delayed: (t.faults?.delayed ?? 0) + r.faults.delayed,
    };
  }
  if (r.limited !== undefined) {
    t.limited = {
      rate: (t.limited?.rate ?? 0) + r.limited.rate,
      concurrency: (t.limited?.concurrency ?? 0) + r.limited.concurrency,
      connections: (t.limited?.connections ?? 0) + r.limited.connections,
      rateKey: r.limited.rateKey || (t.limited?.rateKey ?? ''),
    };
  }
}

/**
 * Adds one worker's report into `into` (the master sums its workers). Counters add; `inflight` adds too
 * (each worker has its own requests). `withInstances: false` skips the per-instance part (used for the
 * counters kept from exited workers, whose in-flight requests are gone).
 */
export function addStats(
  into: Record<string, ServiceStats>,
  from: Record<string, ServiceStats>,
  withInstances = true,
): void {
  for (const [name, s] of Object.entries(from)) {
    let target = into[name];
    if (target === undefined) {
      target = structuredClone(s);
      target.retries ??= 0;
      if (!withInstances || target.instances === undefined) target.instances = {};
      into[name] = target;
      continue;
    }
    target.errors += s.errors;
    target.retries = (target.retries ?? 0) + (s.retries ?? 0);
    if (withInstances) {
      for (const [id, i] of Object.entries(s.instances ?? {})) {
        const t: InstanceStats | undefined = target.instances[id];
        if (t === undefined) target.instances[id] = { ...i };
        else {
          t.inflight += i.inflight;
          t.ejections += i.ejections;
          if (i.ejected === true) t.ejected = true;
        }
      }
    }
    for (const [rev, r] of Object.entries(s.revisions)) {
      const t = target.revisions[rev];
      if (t === undefined) target.revisions[rev] = structuredClone(r);
      else {
        // Live workers follow the current table; kept counters of exited workers may be older.
        if (withInstances) t.role = r.role;
        if (!t.version) t.version = r.version;
        addRevision(t, r);
      }
    }
  }
}

/**
 * Adds the counters kept from exited workers: counters add, per-instance data only for instances the live
 * workers still report (ejections of an instance that is gone no longer matter).
 */
export function addExited(into: Record<string, ServiceStats>, exited: Record<string, ServiceStats>): void {
  for (const [name, s] of Object.entries(exited)) {
    const live = into[name];
    addStats(into, { [name]: s }, false);
    if (live === undefined) continue;
    for (const [id, i] of Object.entries(s.instances ?? {})) {
      const t = into[name].instances[id];
      if (t !== undefined) t.ejections += i.ejections;
    }
  }
}
