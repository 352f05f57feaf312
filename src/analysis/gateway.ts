/** Gateway `/stats` -> the engine's `TrafficSample` for one service's canary and stable revisions. */
import { LATENCY_BUCKETS_SECONDS, type RevisionStats, type StatsReport } from '../gateway/protocol.ts';
import { addCounts, type RevisionCounts, type TrafficSample } from './counts.ts';

const BOUNDS_MS: readonly number[] = LATENCY_BUCKETS_SECONDS.map((s) => Math.round(s * 1e6) / 1e3);

/**
 * Requests, errors and the latency histogram of one revision. Errors = 5xx (gateway-generated 502/503/504
 * included) + gRPC calls that ended with one of the service's failure codes (those are HTTP 200s). `mirror`: judge the mirrored copies instead (a mirror step): requests = completed
 * mirror responses + mirror errors, errors = mirror 5xx + mirror errors (no latency histogram).
 */
export function revisionCounts(r: RevisionStats | undefined, mirror = false): RevisionCounts {
  if (!r)
    return {
      requests: 0,
      errors: 0,
      latency: { boundsMs: BOUNDS_MS, counts: BOUNDS_MS.map(() => 0).concat(0) },
    };
  if (mirror) {
    const s = r.mirror.status;
    const done = s['2xx'] + s['3xx'] + s['4xx'] + s['5xx'];
    return { requests: done + r.mirror.errors, errors: s['5xx'] + r.mirror.errors };
  }
  const out: RevisionCounts = { requests: r.requests, errors: r.status['5xx'] + (r.grpc?.failures ?? 0) };
  if (Array.isArray(r.latencyBuckets) && r.latencyBuckets.length === BOUNDS_MS.length + 1) {
    out.latency = { boundsMs: BOUNDS_MS, counts: r.latencyBuckets };
  }
  return out;
}

/**
 * The sample for `service`: canary = revision `canary`, stable = revision `stable` (omit it when there
 * is none). A revision the gateway has not seen yet counts as zeros.
 */
export function trafficSample(
  report: StatsReport,
  service: string,
  canary: number,
  stable?: number,
  opts: { mirror?: boolean } = {},
): TrafficSample {
  const revs = report.services[service]?.revisions ?? {};
  const sample: TrafficSample = { canary: revisionCounts(revs[String(canary)], opts.mirror) };
  if (stable !== undefined) sample.stable = revisionCounts(revs[String(stable)]);
  return sample;
}

/** Another host's gateway counters of one rollout (same fleet generation): its new and its stable revision. */
export interface PeerRevisionStats {
  to?: RevisionStats;
  stable?: RevisionStats;
}

/**
 * `sample` with the other hosts' counts of the same rollout added: a fleet judges its revision on
 * every host's exact counts, so each host reaches the verdict the whole fleet's traffic supports.
 */
export function withPeers(
  sample: TrafficSample,
  peers: readonly PeerRevisionStats[],
  opts: { mirror?: boolean } = {},
): TrafficSample {
  let { canary, stable } = sample;
  for (const p of peers) {
    canary = addCounts(canary, revisionCounts(p.to, opts.mirror));
    if (stable) stable = addCounts(stable, revisionCounts(p.stable));
  }
  return stable ? { canary, stable } : { canary };
}
