/**
 * A service's traffic policy as the API shows it: written with the config file's keys and units, so
 * `cutover limits --json` output (its `policy`) is a valid `cutover limits --file` input.
 */
import { formatDuration } from '../config/duration.ts';
import { formatRequestKey } from '../config/request-key.ts';
import type { LoadBalancer } from '../config/types.ts';
import type { RuntimePolicy } from '../core/model.ts';
import { describePolicy, type EffectivePolicy } from '../core/policy.ts';

/** The policy keys of a service config: loadBalancer, limits, outlierDetection, timeouts, retries. */
export interface PolicyDocument {
  loadBalancer: { type: LoadBalancer; key?: string };
  limits?: {
    rate?: { requests: number; per: string; burst: number; key: string };
    maxInFlightPerInstance?: number;
    queueTimeout?: string;
    maxConnectionsPerClient?: number;
  };
  outlierDetection?: {
    consecutive5xx?: number;
    errorRate?: { above: number; minRequests: number; window: string };
    ejectFor: string;
    maxEjectedPercent: number;
  };
  timeouts?: { request: string };
  retries?: { attempts: number; budget: string };
}

/** GET/PUT/DELETE /v1/services/{name}/limits, and `policy` in a service's status. */
export interface PolicyView {
  source: 'config' | 'runtime';
  /** One line, as `cutover status` prints it. */
  summary: string;
  policy: PolicyDocument;
}

/** The policy in the config file's shape (durations as `1s`, the retry budget as `20%`). */
export function policyDocument(p: RuntimePolicy): PolicyDocument {
  const pol = p.policy ?? {};
  const doc: PolicyDocument = { loadBalancer: { type: p.loadBalancer } };
  if (p.loadBalancer === 'hash' && pol.hashKey) doc.loadBalancer.key = formatRequestKey(pol.hashKey);
  const limits: NonNullable<PolicyDocument['limits']> = {};
  if (pol.rate) {
    const r = pol.rate;
    limits.rate = {
      requests: r.requests,
      per: formatDuration(r.perMs),
      burst: r.burst,
      key: formatRequestKey(r.key),
    };
  }
  if (pol.maxInFlightPerInstance !== undefined) limits.maxInFlightPerInstance = pol.maxInFlightPerInstance;
  if (pol.queueTimeoutMs !== undefined) limits.queueTimeout = formatDuration(pol.queueTimeoutMs);
  if (pol.maxConnectionsPerClient !== undefined) limits.maxConnectionsPerClient = pol.maxConnectionsPerClient;
  if (Object.keys(limits).length > 0) doc.limits = limits;
  const od = pol.outlierDetection;
  if (od) {
    const out: NonNullable<PolicyDocument['outlierDetection']> = {
      ejectFor: formatDuration(od.ejectForMs),
      maxEjectedPercent: od.maxEjectedPercent,
    };
    if (od.consecutive5xx !== undefined) out.consecutive5xx = od.consecutive5xx;
    if (od.errorRate) {
      const e = od.errorRate;
      out.errorRate = { above: e.above, minRequests: e.minRequests, window: formatDuration(e.windowMs) };
    }
    doc.outlierDetection = out;
  }
  if (pol.requestTimeoutMs !== undefined) doc.timeouts = { request: formatDuration(pol.requestTimeoutMs) };
  if (pol.retries) doc.retries = { attempts: pol.retries.attempts, budget: `${pol.retries.budgetPercent}%` };
  return doc;
}

export function policyView(p: EffectivePolicy): PolicyView {
  return { source: p.source, summary: describePolicy(p), policy: policyDocument(p) };
}
