/**
 * The route table's `policy` (a `TrafficPolicy` in ms, as the config validated it) checked again when it
 * arrives as untrusted JSON (PUT /routes, the persisted file): a worker must never compile nonsense.
 */
import { isObj } from '../config/ctx.ts';
import { POLICY_KEYS } from '../config/keys.ts';

const KEY_SOURCES = ['header', 'cookie', 'query', 'ip', 'route'];

function isPositive(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

function isNonNegative(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function keyProblem(k: unknown): string | null {
  if (!isObj(k) || typeof k.source !== 'string' || !KEY_SOURCES.includes(k.source)) {
    return `must be {source: ${KEY_SOURCES.join('|')}}`;
  }
  if (k.source !== 'ip' && k.source !== 'route' && (typeof k.name !== 'string' || k.name === '')) {
    return 'needs a name';
  }
  return null;
}

/** Why `p` is not a valid route policy for balancer `balance` (null: it is, or it is absent). */
export function routePolicyProblem(p: unknown, balance: unknown): string | null {
  if (p === undefined) return balance === 'hash' ? 'must set hashKey with balance "hash"' : null;
  if (!isObj(p)) return 'must be an object';
  for (const k of Object.keys(p))
    if (!(POLICY_KEYS as readonly string[]).includes(k)) return `has unknown key ${k}`;
  if (balance === 'hash' && p.hashKey === undefined) return 'must set hashKey with balance "hash"';
  if (p.hashKey !== undefined) {
    const bad = keyProblem(p.hashKey);
    if (bad !== null) return `.hashKey ${bad}`;
  }
  if (p.rate !== undefined) {
    const r = p.rate;
    if (!isObj(r) || !isPositive(r.requests) || !isPositive(r.perMs) || !isPositive(r.burst)) {
      return '.rate must be {requests, perMs, burst} > 0 and a key';
    }
    const bad = keyProblem(r.key);
    if (bad !== null) return `.rate.key ${bad}`;
  }
  for (const k of ['maxInFlightPerInstance', 'maxConnectionsPerClient', 'requestTimeoutMs'] as const) {
    if (p[k] !== undefined && !isPositive(p[k])) return `.${k} must be a number > 0`;
  }
  if (p.queueTimeoutMs !== undefined) {
    if (!isNonNegative(p.queueTimeoutMs)) return '.queueTimeoutMs must be a number >= 0';
    if (p.maxInFlightPerInstance === undefined) return '.queueTimeoutMs needs maxInFlightPerInstance';
  }
  const o = p.outlierDetection;
  if (o !== undefined) {
    if (!isObj(o) || !isPositive(o.ejectForMs) || !isNonNegative(o.maxEjectedPercent)) {
      return '.outlierDetection must have ejectForMs > 0 and maxEjectedPercent >= 0';
    }
    if (o.consecutive5xx !== undefined && !isPositive(o.consecutive5xx)) {
      return '.outlierDetection.consecutive5xx must be > 0';
    }
    const e = o.errorRate;
    if (
      e !== undefined &&
      (!isObj(e) || !isPositive(e.above) || !isPositive(e.minRequests) || !isPositive(e.windowMs))
    ) {
      return '.outlierDetection.errorRate must be {above, minRequests, windowMs} > 0';
    }
  }
  const r = p.retries;
  if (r !== undefined && (!isObj(r) || !isNonNegative(r.attempts) || !isNonNegative(r.budgetPercent))) {
    return '.retries must be {attempts, budgetPercent} >= 0';
  }
  return null;
}
