/**
 * `analysis:` as written in a config file (or an API body) -> `AnalysisConfig`, or every problem as a
 * `ConfigIssue` (`path.to.key: message`, like the rest of the config). The analysis engine (src/analysis)
 * consumes the result; it imports this side, never the other way round.
 */

import { type Ctx, describe, get, isObj, newCtx, type Obj, type Path, report } from './ctx.ts';
import { absoluteFloorFor } from './error-rate-floor.ts';
import { parseJsonPath } from './json-path.ts';
import { HTTP_TOKEN_RE } from './keys.ts';
import { readDuration, readInt, readObj, readString } from './read.ts';
import { didYouMean } from './suggest.ts';
import type { AnalysisConfig, AnalysisMetricConfig, ConfigIssue, ValueCondition } from './types.ts';

export const ANALYSIS_KEYS = [
  'interval',
  'initialDelay',
  'failureLimit',
  'consecutiveErrorLimit',
  'inconclusiveLimit',
  'minRequests',
  'alpha',
  'gate',
  'metrics',
] as const;
/** How a rolling update waits for analysis (canary and blue-green have their own gates). */
export const ANALYSIS_GATES = ['everyBatch', 'background'] as const;
export const METRIC_KINDS = ['errorRate', 'latency', 'prometheus', 'web'] as const;
/** abort (the default): a Failed verdict fails the rollout; alert: it is notified and the rollout goes on. */
export const METRIC_ON_FAIL = ['abort', 'alert'] as const;
/** `{{revision}}` ... in provider queries and URLs (rendered by src/analysis/template.ts). */
export const ANALYSIS_TEMPLATE_VARS = ['revision', 'version', 'service', 'role'] as const;

export const ANALYSIS_DEFAULTS = {
  interval: '1s',
  initialDelay: '0s',
  failureLimit: 0,
  consecutiveErrorLimit: 4,
  inconclusiveLimit: 0,
  minRequests: 50,
  alpha: 0.01,
  ratio: 2,
  timeout: '5s',
} as const;

export type AnalysisResult = { ok: true; analysis: AnalysisConfig } | { ok: false; issues: ConfigIssue[] };

/** Validates `raw` (issue paths start with `path`, e.g. `services.web.analysis`; '' for none). */
export function validateAnalysis(raw: unknown, path = 'analysis'): AnalysisResult {
  const ctx = newCtx('/');
  const analysis = validateAnalysisAt(ctx, path === '' ? [] : path.split('.'), raw);
  if (ctx.issues.length > 0 || !analysis) return { ok: false, issues: ctx.issues };
  return { ok: true, analysis };
}

function readNumber(
  ctx: Ctx,
  o: Obj,
  path: Path,
  key: string,
  opts: { min?: number; max?: number; above?: number; below?: number },
): number | undefined {
  const raw = get(o, key);
  if (raw === undefined) return undefined;
  const range: string[] = [];
  if (opts.min !== undefined) range.push(`>= ${opts.min}`);
  if (opts.above !== undefined) range.push(`> ${opts.above}`);
  if (opts.max !== undefined) range.push(`<= ${opts.max}`);
  if (opts.below !== undefined) range.push(`< ${opts.below}`);
  const bad =
    typeof raw !== 'number' ||
    !Number.isFinite(raw) ||
    (opts.min !== undefined && raw < opts.min) ||
    (opts.max !== undefined && raw > opts.max) ||
    (opts.above !== undefined && raw <= opts.above) ||
    (opts.below !== undefined && raw >= opts.below);
  if (bad) {
    report(
      ctx,
      [...path, key],
      `must be a number${range.length ? ` ${range.join(' and ')}` : ''}, ${describe(raw)}`,
    );
    return undefined;
  }
  return raw;
}

export function validateAnalysisAt(ctx: Ctx, path: Path, raw: unknown): AnalysisConfig | undefined {
  if (raw === undefined || raw === null) {
    report(ctx, path, 'must be a mapping with at least `metrics`');
    return undefined;
  }
  const o = readObj(ctx, path, raw, ANALYSIS_KEYS, false);
  if (!o) return undefined;
  const D = ANALYSIS_DEFAULTS;
  const cfg: AnalysisConfig = {
    intervalMs: readDuration(ctx, o, path, 'interval', D.interval),
    initialDelayMs: readDuration(ctx, o, path, 'initialDelay', D.initialDelay, 0),
    failureLimit: readInt(ctx, o, path, 'failureLimit', D.failureLimit, 0),
    consecutiveErrorLimit: readInt(ctx, o, path, 'consecutiveErrorLimit', D.consecutiveErrorLimit, 0),
    inconclusiveLimit: readInt(ctx, o, path, 'inconclusiveLimit', D.inconclusiveLimit, 0),
    minRequests: readInt(ctx, o, path, 'minRequests', D.minRequests, 1),
    alpha: readNumber(ctx, o, path, 'alpha', { above: 0, max: 0.2 }) ?? D.alpha,
    metrics: [],
  };
  const gate = get(o, 'gate');
  if (gate !== undefined) {
    if (typeof gate === 'string' && (ANALYSIS_GATES as readonly string[]).includes(gate)) {
      cfg.gate = gate as (typeof ANALYSIS_GATES)[number];
    } else {
      report(ctx, [...path, 'gate'], `must be everyBatch or background, ${describe(gate)}`);
    }
  }
  const rawMetrics = get(o, 'metrics');
  const mp = [...path, 'metrics'];
  if (!Array.isArray(rawMetrics) || rawMetrics.length === 0) {
    report(ctx, mp, `must be a non-empty list of metrics, ${describe(rawMetrics)}`);
    return cfg;
  }
  const names = new Set<string>();
  rawMetrics.forEach((rm: unknown, i) => {
    const p = [...mp, String(i)];
    const m = readMetric(ctx, p, rm);
    if (!m) return;
    if (names.has(m.name)) report(ctx, [...p, 'name'], `duplicate metric name ${JSON.stringify(m.name)}`);
    names.add(m.name);
    cfg.metrics.push(m);
  });
  return cfg;
}

function readMetric(ctx: Ctx, path: Path, raw: unknown): AnalysisMetricConfig | undefined {
  if (!isObj(raw)) {
    report(
      ctx,
      path,
      `must be a mapping ({ name: ..., errorRate | latency | prometheus | web: {...} }), ${describe(raw)}`,
    );
    return undefined;
  }
  const o = readObj(ctx, path, raw, ['name', 'onFail', ...METRIC_KINDS], false);
  if (!o) return undefined;
  const metric = readMetricKind(ctx, path, o);
  const onFail = get(o, 'onFail');
  if (onFail === undefined || !metric) return metric;
  if (typeof onFail === 'string' && (METRIC_ON_FAIL as readonly string[]).includes(onFail)) {
    return { ...metric, onFail: onFail as (typeof METRIC_ON_FAIL)[number] };
  }
  const hint = typeof onFail === 'string' ? didYouMean(onFail, METRIC_ON_FAIL) : '';
  report(ctx, [...path, 'onFail'], `must be abort or alert, ${describe(onFail)}${hint}`);
  return metric;
}

function readMetricKind(ctx: Ctx, path: Path, o: Obj): AnalysisMetricConfig | undefined {
  const name = readString(ctx, o, path, 'name', undefined);
  if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) {
    report(ctx, [...path, 'name'], `must be 1-63 letters, digits, "_", "." or "-", ${describe(name)}`);
  }
  const kinds = METRIC_KINDS.filter((k) => get(o, k) !== undefined);
  if (kinds.length !== 1) {
    report(
      ctx,
      path,
      kinds.length === 0
        ? `needs one of ${METRIC_KINDS.join(', ')}`
        : `has ${kinds.join(' and ')}: exactly one of ${METRIC_KINDS.join(', ')} per metric`,
    );
    return undefined;
  }
  const kind = kinds[0];
  const kp = [...path, kind];
  const n = name ?? '';
  switch (kind) {
    case 'errorRate': {
      const b = readObj(ctx, kp, get(o, kind), ['max', 'maxIncreaseOver', 'by', 'ratio'], false);
      if (!b) return undefined;
      if (get(b, 'maxIncreaseOver') !== undefined) {
        if (!readStable(ctx, b, kp)) return undefined;
        if (get(b, 'max') !== undefined)
          report(ctx, [...kp, 'max'], 'use either max or maxIncreaseOver, not both');
        const by = readNumber(ctx, b, kp, 'by', { min: 0, max: 0.1 });
        if (get(b, 'by') === undefined)
          report(ctx, [...kp, 'by'], 'is required with maxIncreaseOver (e.g. 0.005)');
        const ratio = readNumber(ctx, b, kp, 'ratio', { above: 1, max: 100 }) ?? ANALYSIS_DEFAULTS.ratio;
        if (by !== undefined && !Number.isFinite(absoluteFloorFor(by, ratio))) {
          report(ctx, [...kp, 'by'], `is too large for ratio ${ratio}: no error rate could exceed it`);
        }
        return { name: n, type: 'errorRateVsStable', by: by ?? 0, ratio };
      }
      for (const k of ['by', 'ratio']) {
        if (get(b, k) !== undefined) report(ctx, [...kp, k], 'only applies with maxIncreaseOver: stable');
      }
      const max = readNumber(ctx, b, kp, 'max', { min: 0, below: 1 });
      if (get(b, 'max') === undefined)
        report(ctx, kp, 'needs max (e.g. 0.01) or maxIncreaseOver: stable with by');
      return { name: n, type: 'errorRate', max: max ?? 0 };
    }
    case 'latency': {
      const b = readObj(ctx, kp, get(o, kind), ['percentile', 'max', 'maxIncreaseOver', 'by'], false);
      if (!b) return undefined;
      const percentile = readNumber(ctx, b, kp, 'percentile', { min: 50, max: 99.99 }) ?? 99;
      if (get(b, 'maxIncreaseOver') !== undefined) {
        if (!readStable(ctx, b, kp)) return undefined;
        if (get(b, 'max') !== undefined)
          report(ctx, [...kp, 'max'], 'use either max or maxIncreaseOver, not both');
        if (get(b, 'by') === undefined)
          report(ctx, [...kp, 'by'], 'is required with maxIncreaseOver (e.g. 300ms)');
        const byMs = readDuration(ctx, b, kp, 'by', '0s', 0);
        return { name: n, type: 'latencyVsStable', percentile, byMs };
      }
      if (get(b, 'by') !== undefined) report(ctx, [...kp, 'by'], 'only applies with maxIncreaseOver: stable');
      if (get(b, 'max') === undefined) {
        report(ctx, kp, 'needs max (e.g. 800ms) or maxIncreaseOver: stable with by');
        return undefined;
      }
      const maxMs = readDuration(ctx, b, kp, 'max', '1s');
      return { name: n, type: 'latency', percentile, maxMs };
    }
    case 'prometheus': {
      const b = readObj(ctx, kp, get(o, kind), ['address', 'query', 'timeout', 'max', 'min'], false);
      if (!b) return undefined;
      const address = readUrl(ctx, b, kp, 'address');
      const query = readString(ctx, b, kp, 'query', undefined);
      if (query !== undefined) checkTemplate(ctx, [...kp, 'query'], query);
      const cond = readCondition(ctx, b, kp, false);
      const timeoutMs = readDuration(ctx, b, kp, 'timeout', ANALYSIS_DEFAULTS.timeout);
      return {
        name: n,
        type: 'prometheus',
        address: (address ?? '').replace(/\/+$/, ''),
        query: query ?? '',
        timeoutMs,
        ...cond,
      };
    }
    case 'web': {
      const b = readObj(
        ctx,
        kp,
        get(o, kind),
        ['url', 'method', 'headers', 'jsonPath', 'timeout', 'max', 'min', 'equals'],
        false,
      );
      if (!b) return undefined;
      const url = readUrl(ctx, b, kp, 'url');
      const method = get(b, 'method') ?? 'GET';
      if (method !== 'GET' && method !== 'POST')
        report(ctx, [...kp, 'method'], `must be GET or POST, ${describe(method)}`);
      const headers: Record<string, string> = {};
      const rh = get(b, 'headers');
      if (rh !== undefined) {
        if (!isObj(rh))
          report(ctx, [...kp, 'headers'], `must be a mapping of header names to values, ${describe(rh)}`);
        else
          for (const [k, v] of Object.entries(rh)) {
            if (typeof v !== 'string' || !HTTP_TOKEN_RE.test(k)) {
              report(
                ctx,
                [...kp, 'headers', k],
                `must be a string value under a valid header name, ${describe(v)}`,
              );
            } else headers[k] = v;
          }
      }
      const jsonPath = readString(ctx, b, kp, 'jsonPath', '$') ?? '$';
      const jp = parseJsonPath(jsonPath);
      if (!jp.ok) report(ctx, [...kp, 'jsonPath'], jp.error);
      const cond = readCondition(ctx, b, kp, true);
      const timeoutMs = readDuration(ctx, b, kp, 'timeout', ANALYSIS_DEFAULTS.timeout);
      return {
        name: n,
        type: 'web',
        url: url ?? '',
        method: method === 'POST' ? 'POST' : 'GET',
        headers,
        jsonPath,
        timeoutMs,
        ...cond,
      };
    }
  }
}

function readStable(ctx: Ctx, b: Obj, kp: Path): boolean {
  const v = get(b, 'maxIncreaseOver');
  if (v !== 'stable') {
    report(ctx, [...kp, 'maxIncreaseOver'], `must be stable (the only baseline), ${describe(v)}`);
    return false;
  }
  return true;
}

function readUrl(ctx: Ctx, b: Obj, kp: Path, key: string): string | undefined {
  const s = readString(ctx, b, kp, key, undefined);
  if (s === undefined) return undefined;
  checkTemplate(ctx, [...kp, key], s);
  const probe = s.replace(/\{\{\s*\w+\s*\}\}/g, 'x');
  let u: URL | undefined;
  try {
    u = new URL(probe);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    report(ctx, [...kp, key], `must be an http:// or https:// URL, ${describe(s)}`);
    return undefined;
  }
  return s;
}

function readCondition(ctx: Ctx, b: Obj, kp: Path, allowEquals: boolean): ValueCondition {
  const cond: ValueCondition = {};
  const max = readNumber(ctx, b, kp, 'max', {});
  const min = readNumber(ctx, b, kp, 'min', {});
  if (max !== undefined) cond.max = max;
  if (min !== undefined) cond.min = min;
  if (allowEquals) {
    const eq = get(b, 'equals');
    const rawEq = Object.hasOwn(b, 'equals') ? b.equals : undefined;
    if (rawEq === null) cond.equals = null;
    else if (eq !== undefined) {
      if (typeof eq === 'string' || typeof eq === 'number' || typeof eq === 'boolean') cond.equals = eq;
      else report(ctx, [...kp, 'equals'], `must be a string, number, boolean or null, ${describe(eq)}`);
    }
    if (cond.equals !== undefined && (max !== undefined || min !== undefined)) {
      report(ctx, [...kp, 'equals'], 'use either equals or max/min, not both');
    }
  }
  if (cond.max === undefined && cond.min === undefined && cond.equals === undefined) {
    if (!(Object.hasOwn(b, 'max') || Object.hasOwn(b, 'min') || Object.hasOwn(b, 'equals'))) {
      report(ctx, kp, `needs a condition: ${allowEquals ? 'equals, max or min' : 'max or min'}`);
    }
  }
  if (cond.max !== undefined && cond.min !== undefined && cond.min > cond.max) {
    report(ctx, [...kp, 'min'], `must not be above max (${cond.max})`);
  }
  return cond;
}

function checkTemplate(ctx: Ctx, path: Path, s: string): void {
  for (const m of s.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!(ANALYSIS_TEMPLATE_VARS as readonly string[]).includes(m[1])) {
      report(
        ctx,
        path,
        `unknown variable {{${m[1]}}}${didYouMean(m[1], ANALYSIS_TEMPLATE_VARS)} (known: ${ANALYSIS_TEMPLATE_VARS.map((v) => `{{${v}}}`).join(', ')})`,
      );
    }
  }
}
