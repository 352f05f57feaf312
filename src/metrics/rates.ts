/**
 * Live traffic per revision from two readings of the gateway's cumulative counters: requests per
 * second, error rate and latency percentiles of the requests between them. Pure.
 */
import { diffCounts, quantileBound } from '../analysis/counts.ts';
import { revisionCounts } from '../analysis/gateway.ts';
import type { StatsReport } from '../gateway/protocol.ts';

export interface RevisionRate {
  revision: number;
  role: string;
  version: string;
  /** Requests per second over the window; null when the counters were reset inside it. */
  rps: number | null;
  /** Errors / requests over the window; null without requests. */
  errorRate: number | null;
  /** Bucket upper bounds (ms) at the 50th / 99th percentile of the window; null without requests. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Requests since the gateway started (the cumulative counter). */
  requests: number;
}

export interface ServiceRates {
  revisions: RevisionRate[];
  /** Requests + WebSocket connections in flight now, by instance id. */
  inflight: Record<string, number>;
}

const finite = (n: number | undefined): number | null => (n === undefined || !Number.isFinite(n) ? null : n);

/** Rates of every service in `cur` over `windowMs` since `prev` (no `prev`: zero-length window, all null). */
export function trafficRates(
  prev: StatsReport | undefined,
  cur: StatsReport,
  windowMs: number,
): Record<string, ServiceRates> {
  const out: Record<string, ServiceRates> = {};
  for (const [name, svc] of Object.entries(cur.services)) {
    const revisions: RevisionRate[] = [];
    for (const [rev, r] of Object.entries(svc.revisions)) {
      const now = revisionCounts(r);
      const before = prev?.services[name]?.revisions[rev];
      const d = prev && windowMs > 0 ? diffCounts(now, revisionCounts(before)) : undefined;
      const has = d !== undefined && d.requests > 0;
      revisions.push({
        revision: Number(rev),
        role: r.role,
        version: r.version,
        rps: d ? (d.requests * 1000) / windowMs : null,
        errorRate: has ? d.errors / d.requests : null,
        p50Ms: has && d.latency ? finite(quantileBound(d.latency, 0.5)) : null,
        p99Ms: has && d.latency ? finite(quantileBound(d.latency, 0.99)) : null,
        requests: r.requests,
      });
    }
    revisions.sort((a, b) => a.revision - b.revision);
    const inflight: Record<string, number> = {};
    for (const [id, i] of Object.entries(svc.instances)) inflight[id] = i.inflight;
    out[name] = { revisions, inflight };
  }
  return out;
}
