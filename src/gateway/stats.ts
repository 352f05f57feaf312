/**
 * Per-worker traffic counters behind `GET /stats` (see `StatsReport` in protocol.ts). The hot path only
 * increments plain numbers on an object it already holds (`Upstream.stats`); reports are built on demand.
 */
import type { MirrorStats, ServiceStats, StatusCounts, UpstreamRole } from './protocol.ts';

/** Index = status / 100 (0..9); only 2..5 are reported. */
function newClasses(): number[] {
  return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
}

export function statusClass(status: number): number {
  const c = (status / 100) | 0;
  return c >= 0 && c <= 9 ? c : 0;
}

export class RevisionCounters {
  role: UpstreamRole;
  requests = 0;
  readonly status = newClasses();
  errors = 0;
  latencyMsSum = 0;
  latencyCount = 0;
  mirrorSent = 0;
  mirrorSkipped = 0;
  readonly mirrorStatus = newClasses();
  mirrorErrors = 0;
  mirrorLatencyMsSum = 0;
  mirrorLatencyCount = 0;

  constructor(role: UpstreamRole) {
    this.role = role;
  }
}

export class ServiceCounters {
  /** Gateway errors without an instance to attribute them to. */
  errors = 0;
  readonly revisions = new Map<number, RevisionCounters>();

  revision(revision: number, role: UpstreamRole): RevisionCounters {
    let r = this.revisions.get(revision);
    if (r === undefined) {
      r = new RevisionCounters(role);
      this.revisions.set(revision, r);
    } else r.role = role;
    return r;
  }
}

export class GatewayStats {
  readonly services = new Map<string, ServiceCounters>();

  service(name: string): ServiceCounters {
    let s = this.services.get(name);
    if (s === undefined) {
      s = new ServiceCounters();
      this.services.set(name, s);
    }
    return s;
  }

  report(): Record<string, ServiceStats> {
    const out: Record<string, ServiceStats> = {};
    for (const [name, s] of this.services) {
      const revisions: ServiceStats['revisions'] = {};
      for (const [rev, r] of s.revisions) {
        revisions[String(rev)] = {
          role: r.role,
          requests: r.requests,
          status: counts(r.status),
          errors: r.errors,
          latencyMsSum: round3(r.latencyMsSum),
          latencyCount: r.latencyCount,
          mirror: {
            sent: r.mirrorSent,
            skipped: r.mirrorSkipped,
            status: counts(r.mirrorStatus),
            errors: r.mirrorErrors,
            latencyMsSum: round3(r.mirrorLatencyMsSum),
            latencyCount: r.mirrorLatencyCount,
          },
        };
      }
      out[name] = { errors: s.errors, revisions };
    }
    return out;
  }
}

function counts(c: readonly number[]): StatusCounts {
  return { '2xx': c[2], '3xx': c[3], '4xx': c[4], '5xx': c[5] };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
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

/** Adds one worker's report into `into` (the master sums its workers). */
export function addStats(into: Record<string, ServiceStats>, from: Record<string, ServiceStats>): void {
  for (const [name, s] of Object.entries(from)) {
    const target = into[name];
    if (target === undefined) {
      into[name] = structuredClone(s);
      continue;
    }
    target.errors += s.errors;
    for (const [rev, r] of Object.entries(s.revisions)) {
      const t = target.revisions[rev];
      if (t === undefined) {
        target.revisions[rev] = structuredClone(r);
        continue;
      }
      t.requests += r.requests;
      addCounts(t.status, r.status);
      t.errors += r.errors;
      t.latencyMsSum = round3(t.latencyMsSum + r.latencyMsSum);
      t.latencyCount += r.latencyCount;
      addMirror(t.mirror, r.mirror);
    }
  }
}
