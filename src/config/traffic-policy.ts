/**
 * `services.<name>.loadBalancer`, `limits`, `outlierDetection`, `timeouts` and `retries`: the traffic
 * policy the gateway enforces per service. Also the runtime validator of `cutover limits` bodies.
 */
import { type Ctx, describe, get, isObj, newCtx, type Obj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import {
  ERROR_RATE_KEYS,
  HTTP_TOKEN_RE,
  LIMITS_KEYS,
  LOAD_BALANCER_KEYS,
  LOAD_BALANCERS,
  OUTLIER_KEYS,
  RATE_KEYS,
  RETRIES_KEYS,
  TIMEOUTS_KEYS,
} from './keys.ts';
import { checkPercent, readDuration, readInt, readObj } from './read.ts';
import { didYouMean } from './suggest.ts';
import type { ConfigIssue, LoadBalancer, OutlierDetection, RequestKey, TrafficPolicy } from './types.ts';

const HASH_KEY_KINDS = ['header', 'cookie', 'query', 'ip'] as const;
const RATE_KEY_KINDS = ['ip', 'header', 'route'] as const;

/** `header:NAME`, `cookie:NAME`, `query:NAME`, `ip` or `route`, limited to `kinds`. */
export function readRequestKey(
  ctx: Ctx,
  path: Path,
  raw: unknown,
  kinds: readonly string[],
): RequestKey | undefined {
  const hint = `must be ${kinds.map((k) => (k === 'ip' || k === 'route' ? k : `${k}:NAME`)).join(' | ')}`;
  if (typeof raw !== 'string' || raw.trim() === '') {
    report(ctx, path, `${hint}, ${describe(raw)}`);
    return undefined;
  }
  const colon = raw.indexOf(':');
  const kind = (colon < 0 ? raw : raw.slice(0, colon)).trim();
  const name = colon < 0 ? '' : raw.slice(colon + 1).trim();
  if (!kinds.includes(kind)) {
    report(ctx, path, `${hint}; unknown key kind ${JSON.stringify(kind)}${didYouMean(kind, kinds)}`);
    return undefined;
  }
  if (kind === 'ip' || kind === 'route') {
    if (colon >= 0) report(ctx, path, `${hint}; "${kind}" takes no name`);
    return { source: kind };
  }
  if (name === '' || (kind !== 'query' && !HTTP_TOKEN_RE.test(name)) || /[\s&=#]/.test(name)) {
    report(ctx, path, `${hint}; ${JSON.stringify(name)} is not a valid ${kind} name`);
    return undefined;
  }
  const source = kind as 'header' | 'cookie' | 'query';
  return { source, name: source === 'header' ? name.toLowerCase() : name };
}

/** `loadBalancer: TYPE` or `loadBalancer: { type, key }` (key: hash only, and required there). */
export function readLoadBalancer(
  ctx: Ctx,
  path: Path,
  raw: unknown,
): { type: LoadBalancer; hashKey?: RequestKey } {
  const fallback: { type: LoadBalancer } = { type: D.DEFAULT_LOAD_BALANCER };
  if (raw === undefined) return fallback;
  const o: Obj =
    typeof raw === 'string' ? { type: raw } : (readObj(ctx, path, raw, LOAD_BALANCER_KEYS) ?? {});
  const typeRaw = get(o, 'type') ?? D.DEFAULT_LOAD_BALANCER;
  const typePath = typeof raw === 'string' ? path : [...path, 'type'];
  if (typeof typeRaw !== 'string' || !(LOAD_BALANCERS as readonly string[]).includes(typeRaw)) {
    const hint = typeof typeRaw === 'string' ? didYouMean(typeRaw, LOAD_BALANCERS) : '';
    report(ctx, typePath, `must be one of ${LOAD_BALANCERS.join(', ')}, ${describe(typeRaw)}${hint}`);
    return fallback;
  }
  const type = typeRaw as LoadBalancer;
  const keyRaw = get(o, 'key');
  if (type !== 'hash') {
    if (keyRaw !== undefined) report(ctx, [...path, 'key'], 'applies only to type: hash');
    return { type };
  }
  if (keyRaw === undefined) {
    report(ctx, [...path, 'key'], 'is required with type: hash (header:NAME, cookie:NAME, query:NAME or ip)');
    return { type };
  }
  const hashKey = readRequestKey(ctx, [...path, 'key'], keyRaw, HASH_KEY_KINDS);
  return hashKey === undefined ? { type } : { type, hashKey };
}

function readPositiveInt(ctx: Ctx, o: Obj, path: Path, key: string): number | undefined {
  if (get(o, key) === undefined) return undefined;
  return readInt(ctx, o, path, key, 1, 1);
}

/** A share 0..1 as a number or a percentage string ("20%"). */
function readShare(ctx: Ctx, path: Path, raw: unknown, percent: boolean): number {
  if (!percent && typeof raw === 'number' && raw >= 0 && raw <= 1) return raw;
  const r = checkPercent(raw);
  if (percent && r.ok) return r.value / 100;
  if (!percent && typeof raw === 'string' && raw.trim().endsWith('%') && r.ok) return r.value / 100;
  report(ctx, path, `must be a share from 0 to 1 or a percentage such as "50%", ${describe(raw)}`);
  return 0;
}

function readRate(ctx: Ctx, path: Path, raw: unknown): TrafficPolicy['rate'] {
  const o = readObj(ctx, path, raw, RATE_KEYS);
  if (o === undefined) return undefined;
  if (get(o, 'requests') === undefined) {
    report(ctx, [...path, 'requests'], 'is required (tokens added per `per`, an integer >= 1)');
    return undefined;
  }
  const requests = readInt(ctx, o, path, 'requests', 1, 1);
  const perMs = readDuration(ctx, o, path, 'per', '1s');
  const burst = get(o, 'burst') === undefined ? requests : readInt(ctx, o, path, 'burst', requests, 1);
  const key = readRequestKey(ctx, [...path, 'key'], get(o, 'key') ?? 'ip', RATE_KEY_KINDS);
  return key === undefined ? undefined : { requests, perMs, burst, key };
}

function readLimits(ctx: Ctx, path: Path, raw: unknown, policy: TrafficPolicy): void {
  const o = readObj(ctx, path, raw, LIMITS_KEYS);
  if (o === undefined) return;
  const rawRate = get(o, 'rate');
  if (rawRate !== undefined) {
    const rate = readRate(ctx, [...path, 'rate'], rawRate);
    if (rate) policy.rate = rate;
  }
  const inflight = readPositiveInt(ctx, o, path, 'maxInFlightPerInstance');
  if (inflight !== undefined) policy.maxInFlightPerInstance = inflight;
  if (get(o, 'queueTimeout') !== undefined) {
    const ms = readDuration(ctx, o, path, 'queueTimeout', '0s', 0);
    if (inflight === undefined) {
      report(
        ctx,
        [...path, 'queueTimeout'],
        'needs maxInFlightPerInstance (requests queue only behind a concurrency limit)',
      );
    } else policy.queueTimeoutMs = ms;
  }
  const conns = readPositiveInt(ctx, o, path, 'maxConnectionsPerClient');
  if (conns !== undefined) policy.maxConnectionsPerClient = conns;
}

function readOutlier(ctx: Ctx, path: Path, raw: unknown): OutlierDetection | undefined {
  const o = readObj(ctx, path, raw, OUTLIER_KEYS);
  if (o === undefined) return undefined;
  const out: OutlierDetection = {
    ejectForMs: readDuration(ctx, o, path, 'ejectFor', D.DEFAULT_OUTLIER_EJECT_FOR),
    maxEjectedPercent: readInt(ctx, o, path, 'maxEjectedPercent', D.DEFAULT_MAX_EJECTED_PERCENT, 0, 100),
  };
  const c = readPositiveInt(ctx, o, path, 'consecutive5xx');
  if (c !== undefined) out.consecutive5xx = c;
  const er = get(o, 'errorRate');
  if (er !== undefined) {
    const ep = [...path, 'errorRate'];
    const e = readObj(ctx, ep, er, ERROR_RATE_KEYS) ?? {};
    if (get(e, 'above') === undefined) report(ctx, [...ep, 'above'], 'is required (e.g. above: 0.5)');
    else {
      const above = readShare(ctx, [...ep, 'above'], get(e, 'above'), false);
      if (above <= 0 || above >= 1) report(ctx, [...ep, 'above'], 'must be between 0 and 1 (exclusive)');
      out.errorRate = {
        above,
        minRequests: readInt(ctx, e, ep, 'minRequests', D.DEFAULT_ERROR_RATE_MIN_REQUESTS, 1),
        windowMs: readDuration(ctx, e, ep, 'window', D.DEFAULT_ERROR_RATE_WINDOW),
      };
    }
  }
  if (out.consecutive5xx === undefined && er === undefined) {
    report(ctx, path, 'needs consecutive5xx or errorRate (what makes an instance an outlier)');
  }
  return out;
}

function readRetries(ctx: Ctx, path: Path, raw: unknown): TrafficPolicy['retries'] {
  const o = readObj(ctx, path, raw, RETRIES_KEYS);
  if (o === undefined) return undefined;
  const attempts = readInt(ctx, o, path, 'attempts', D.DEFAULT_RETRIES, 0, 10);
  const budgetPercent =
    readShare(ctx, [...path, 'budget'], get(o, 'budget') ?? D.DEFAULT_RETRY_BUDGET, true) * 100;
  return { attempts, budgetPercent };
}

/** Reads the policy keys of a service mapping; undefined when none is set. */
export function readTrafficPolicy(
  ctx: Ctx,
  path: Path,
  o: Obj,
  hashKey: RequestKey | undefined,
): TrafficPolicy | undefined {
  const policy: TrafficPolicy = {};
  if (hashKey !== undefined) policy.hashKey = hashKey;
  const limits = get(o, 'limits');
  if (limits !== undefined) readLimits(ctx, [...path, 'limits'], limits, policy);
  const outlier = get(o, 'outlierDetection');
  if (outlier !== undefined) {
    const od = readOutlier(ctx, [...path, 'outlierDetection'], outlier);
    if (od) policy.outlierDetection = od;
  }
  const timeouts = get(o, 'timeouts');
  if (timeouts !== undefined) {
    const tp = [...path, 'timeouts'];
    const t = readObj(ctx, tp, timeouts, TIMEOUTS_KEYS);
    if (t !== undefined && get(t, 'request') !== undefined) {
      policy.requestTimeoutMs = readDuration(ctx, t, tp, 'request', '30s');
    }
  }
  const retries = get(o, 'retries');
  if (retries !== undefined) {
    const r = readRetries(ctx, [...path, 'retries'], retries);
    if (r) policy.retries = r;
  }
  return Object.keys(policy).length === 0 ? undefined : policy;
}

/** The keys `cutover limits` accepts: the service's policy keys, loadBalancer included. */
export const RUNTIME_POLICY_KEYS = [
  'loadBalancer',
  'limits',
  'outlierDetection',
  'timeouts',
  'retries',
] as const;

export type PolicyResult =
  | { ok: true; loadBalancer: LoadBalancer; policy: TrafficPolicy | undefined }
  | { ok: false; issues: ConfigIssue[] };

/**
 * Validates a runtime policy (the body of `cutover limits`) with the config file's checks; an absent key
 * means none (not "unchanged"). Issue paths are the body's keys.
 */
export function validatePolicyBody(raw: unknown): PolicyResult {
  const ctx = newCtx('/');
  if (raw !== undefined && raw !== null && !isObj(raw)) {
    return { ok: false, issues: [{ path: '', message: `must be a mapping, ${describe(raw)}` }] };
  }
  const o = readObj(ctx, [], raw ?? {}, RUNTIME_POLICY_KEYS, false) ?? {};
  const lb = readLoadBalancer(ctx, ['loadBalancer'], get(o, 'loadBalancer'));
  const policy = readTrafficPolicy(ctx, [], o, lb.hashKey);
  if (ctx.issues.length > 0) return { ok: false, issues: ctx.issues };
  return { ok: true, loadBalancer: lb.type, policy };
}
