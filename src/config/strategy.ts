/** `services.<name>.strategy`: rolling, blueGreen or canary. */

import { type Ctx, describe, get, isObj, type Obj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { checkHostsAtOnce } from './fleet.ts';
import { HTTP_TOKEN_RE, MIRROR_KEYS } from './keys.ts';
import {
  accept,
  checkPercent,
  readBool,
  readDuration,
  readEach,
  readInt,
  readObj,
  readSize,
} from './read.ts';
import { didYouMean } from './suggest.ts';
import type {
  BlueGreenStrategy,
  CanaryStep,
  CanaryStrategy,
  IntOrPercent,
  RollingStrategy,
  StrategyConfig,
} from './types.ts';

export const STRATEGY_TYPES = ['rolling', 'blueGreen', 'canary'] as const;
export type StrategyType = (typeof STRATEGY_TYPES)[number];

/** The keys each strategy type accepts. */
export const STRATEGY_KEYS: Record<StrategyType, readonly string[]> = {
  rolling: ['type', 'maxSurge', 'maxUnavailable', 'minReadySeconds', 'progressDeadline', 'hostsAtOnce'],
  blueGreen: [
    'type',
    'previewReplicas',
    'autoPromote',
    'autoPromoteAfter',
    'scaleDownDelay',
    'preview',
    'progressDeadline',
  ],
  canary: ['type', 'canaryReplicas', 'steps', 'progressDeadline', 'mirrorMaxBodySize'],
};

export const CANARY_STEP_KINDS = ['setWeight', 'pause', 'mirror', 'analysis'] as const;
const PAUSE_KEYS = ['duration'] as const;
const ANALYSIS_STEP_KEYS = ['duration'] as const;
const PREVIEW_KEYS = ['header'] as const;

const INT_OR_PERCENT_HINT = 'must be an integer >= 0 or a percentage like "25%"';

export type IntOrPercentResult =
  | { ok: true; value: IntOrPercent; isZero: boolean }
  | { ok: false; error: string };

/**
 * Validates a Kubernetes-style IntOrString: a non-negative integer, or an integer percentage
 * string "N%" (0..maxPercent). The value is returned as written (number, or "N%" string).
 */
export function checkIntOrPercent(raw: unknown, maxPercent = 100): IntOrPercentResult {
  if (typeof raw === 'number') {
    if (Number.isSafeInteger(raw) && raw >= 0) return { ok: true, value: raw, isZero: raw === 0 };
    return { ok: false, error: `${INT_OR_PERCENT_HINT}, ${describe(raw)}` };
  }
  if (typeof raw === 'string') {
    const m = /^(\d{1,9})%$/.exec(raw.trim());
    if (!m) return { ok: false, error: `${INT_OR_PERCENT_HINT}, ${describe(raw)}` };
    const n = Number(m[1]);
    if (n > maxPercent)
      return { ok: false, error: `percentage must be between 0% and ${maxPercent}%, ${describe(raw)}` };
    return { ok: true, value: `${n}%`, isZero: n === 0 };
  }
  return { ok: false, error: `${INT_OR_PERCENT_HINT}, ${describe(raw)}` };
}

const typeOfKey = (key: string): StrategyType[] =>
  STRATEGY_TYPES.filter((t) => STRATEGY_KEYS[t].includes(key));

/** Unknown keys, and keys that belong to another strategy type. */
function checkKeys(ctx: Ctx, path: Path, o: Obj, type: StrategyType): void {
  const own = STRATEGY_KEYS[type];
  for (const k of Object.keys(o)) {
    if (own.includes(k)) continue;
    const owners = typeOfKey(k);
    if (owners.length > 0) {
      const why = k === 'hostsAtOnce' ? ' (blueGreen and canary switch all hosts together)' : '';
      report(ctx, [...path, k], `only valid with ${owners.map((t) => `type: ${t}`).join(' or ')}${why}`);
      continue;
    }
    let hint = didYouMean(k, own);
    if (hint === '') {
      const all = STRATEGY_TYPES.flatMap((t) => STRATEGY_KEYS[t]);
      const other = didYouMean(k, all);
      const m = /"(.*)"/.exec(other);
      if (m) hint = `; did you mean "${m[1]}" (only valid with type: ${typeOfKey(m[1]).join(' or ')})?`;
    }
    report(ctx, [...path, k], `unknown key for type: ${type}${hint}`);
  }
}

export function validateStrategyAt(ctx: Ctx, path: Path, raw: unknown, replicas: number): StrategyConfig {
  const fallback: RollingStrategy = {
    type: 'rolling',
    maxSurge: D.DEFAULT_MAX_SURGE,
    maxUnavailable: D.DEFAULT_MAX_UNAVAILABLE,
    minReadySeconds: D.DEFAULT_MIN_READY_SECONDS,
    progressDeadlineMs: 0,
    hostsAtOnce: D.DEFAULT_HOSTS_AT_ONCE,
  };
  if (raw !== undefined && raw !== null && !isObj(raw)) {
    report(
      ctx,
      path,
      `must be a mapping (type: rolling, blueGreen or canary, and its keys), ${describe(raw)}`,
    );
    return fallback;
  }
  const o = isObj(raw) ? raw : {};
  const type = get(o, 'type') ?? D.DEFAULT_STRATEGY_TYPE;
  if (typeof type !== 'string' || !(STRATEGY_TYPES as readonly string[]).includes(type)) {
    const hint = typeof type === 'string' ? didYouMean(type, STRATEGY_TYPES) : '';
    report(ctx, [...path, 'type'], `must be "rolling", "blueGreen" or "canary", ${describe(type)}${hint}`);
    return fallback; // other keys depend on the type; don't pile on
  }
  checkKeys(ctx, path, o, type as StrategyType);
  const progressDeadlineMs = readDuration(ctx, o, path, 'progressDeadline', D.DEFAULT_PROGRESS_DEADLINE);
  switch (type as StrategyType) {
    case 'rolling':
      return rolling(ctx, path, o, progressDeadlineMs);
    case 'blueGreen':
      return blueGreen(ctx, path, o, replicas, progressDeadlineMs);
    case 'canary':
      return canary(ctx, path, o, progressDeadlineMs);
  }
}

function rolling(ctx: Ctx, path: Path, o: Obj, progressDeadlineMs: number): RollingStrategy {
  const intOrPct = (key: string, def: string, maxPercent: number): { value: IntOrPercent; zero: boolean } => {
    const r = checkIntOrPercent(get(o, key) ?? def, maxPercent);
    if (!r.ok) {
      report(ctx, [...path, key], r.error);
      return { value: def, zero: false };
    }
    return { value: r.value, zero: r.isZero };
  };
  const surge = intOrPct('maxSurge', D.DEFAULT_MAX_SURGE, Number.MAX_SAFE_INTEGER);
  const unavailable = intOrPct('maxUnavailable', D.DEFAULT_MAX_UNAVAILABLE, 100);
  if (surge.zero && unavailable.zero) {
    report(
      ctx,
      [...path, get(o, 'maxUnavailable') !== undefined ? 'maxUnavailable' : 'maxSurge'],
      'maxSurge and maxUnavailable must not both be 0 (the rollout could never replace an instance)',
    );
  }
  let minReadySeconds = D.DEFAULT_MIN_READY_SECONDS;
  const mrs = get(o, 'minReadySeconds');
  if (mrs !== undefined) {
    if (typeof mrs !== 'number' || !Number.isFinite(mrs) || mrs < 0) {
      report(ctx, [...path, 'minReadySeconds'], `must be a number of seconds >= 0, ${describe(mrs)}`);
    } else {
      minReadySeconds = mrs;
    }
  }
  return {
    type: 'rolling',
    maxSurge: surge.value,
    maxUnavailable: unavailable.value,
    minReadySeconds,
    progressDeadlineMs,
    hostsAtOnce:
      accept(
        ctx,
        [...path, 'hostsAtOnce'],
        checkHostsAtOnce(get(o, 'hostsAtOnce') ?? D.DEFAULT_HOSTS_AT_ONCE),
      ) ?? D.DEFAULT_HOSTS_AT_ONCE,
  };
}

const PREVIEW_HINT = 'must be "Name: value", e.g. "X-Cutover-Preview: true"';

/** Parses `"Name: value"` into a lower-case header name and its value. */
export function parseHeaderValue(
  raw: unknown,
): { ok: true; header: string; value: string } | { ok: false; error: string } {
  if (typeof raw !== 'string') return { ok: false, error: `${PREVIEW_HINT}, ${describe(raw)}` };
  const colon = raw.indexOf(':');
  const name = raw.slice(0, Math.max(colon, 0)).trim();
  const value = raw.slice(colon + 1).trim();
  if (colon < 0 || name === '' || value === '')
    return { ok: false, error: `${PREVIEW_HINT}, ${describe(raw)}` };
  if (!HTTP_TOKEN_RE.test(name)) {
    return { ok: false, error: `${PREVIEW_HINT}; ${JSON.stringify(name)} is not a valid header name` };
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    return { ok: false, error: `${PREVIEW_HINT}; the value must not contain control characters` };
  }
  return { ok: true, header: name.toLowerCase(), value };
}

function blueGreen(
  ctx: Ctx,
  path: Path,
  o: Obj,
  replicas: number,
  progressDeadlineMs: number,
): BlueGreenStrategy {
  const s: BlueGreenStrategy = {
    type: 'blueGreen',
    previewReplicas: readInt(ctx, o, path, 'previewReplicas', replicas, 1),
    autoPromote: readBool(ctx, o, path, 'autoPromote', D.DEFAULT_AUTO_PROMOTE),
    autoPromoteAfterMs: readDuration(ctx, o, path, 'autoPromoteAfter', D.DEFAULT_AUTO_PROMOTE_AFTER, 0),
    scaleDownDelayMs: readDuration(ctx, o, path, 'scaleDownDelay', D.DEFAULT_SCALE_DOWN_DELAY, 0),
    progressDeadlineMs,
  };
  const rawPreview = get(o, 'preview');
  if (rawPreview !== undefined) {
    const pp = [...path, 'preview'];
    const p = readObj(ctx, pp, rawPreview, PREVIEW_KEYS);
    if (p !== undefined) {
      const h = get(p, 'header');
      if (h === undefined) {
        report(ctx, [...pp, 'header'], `is required (${PREVIEW_HINT.slice('must be '.length)})`);
      } else {
        const r = parseHeaderValue(h);
        if (r.ok) s.preview = { header: r.header, value: r.value };
        else report(ctx, [...pp, 'header'], r.error);
      }
    }
  }
  return s;
}

function canaryReplicas(ctx: Ctx, path: Path, o: Obj): IntOrPercent {
  const raw = get(o, 'canaryReplicas') ?? D.DEFAULT_CANARY_REPLICAS;
  const r = checkIntOrPercent(raw, 100);
  if (!r.ok || r.isZero) {
    report(
      ctx,
      [...path, 'canaryReplicas'],
      r.ok
        ? `must be at least 1 (or 1%..100% of replicas), ${describe(raw)}`
        : `must be an integer >= 1 or a percentage of replicas like "25%", ${describe(raw)}`,
    );
    return D.DEFAULT_CANARY_REPLICAS;
  }
  return r.value;
}

function canary(ctx: Ctx, path: Path, o: Obj, progressDeadlineMs: number): CanaryStrategy {
  return {
    type: 'canary',
    canaryReplicas: canaryReplicas(ctx, path, o),
    steps: validateSteps(ctx, [...path, 'steps'], get(o, 'steps')),
    progressDeadlineMs,
    mirrorMaxBodyBytes: readSize(ctx, o, path, 'mirrorMaxBodySize', D.DEFAULT_MIRROR_MAX_BODY_SIZE, 0),
  };
}

const STEP_HINT = `one of ${CANARY_STEP_KINDS.join(', ')} (e.g. "- setWeight: 10", "- pause: { duration: 2m }")`;

function validateSteps(ctx: Ctx, path: Path, raw: unknown): CanaryStep[] {
  if (raw === undefined) {
    report(ctx, path, `is required for type: canary: a list of steps, each ${STEP_HINT}`);
    return [];
  }
  if (!Array.isArray(raw)) {
    report(ctx, path, `must be a list of steps, each ${STEP_HINT}, ${describe(raw)}`);
    return [];
  }
  if (raw.length === 0) {
    report(ctx, path, `must contain at least one step (${STEP_HINT})`);
    return [];
  }
  return readEach(raw, path, (p, item) => validateStep(ctx, p, item));
}

function validateStep(ctx: Ctx, path: Path, raw: unknown): CanaryStep | undefined {
  if (!isObj(raw)) {
    report(ctx, path, `must be a mapping with ${STEP_HINT}, ${describe(raw)}`);
    return undefined;
  }
  const keys = Object.keys(raw);
  const known = keys.filter((k) => (CANARY_STEP_KINDS as readonly string[]).includes(k));
  for (const k of keys) {
    if (!known.includes(k)) report(ctx, [...path, k], `unknown step kind${didYouMean(k, CANARY_STEP_KINDS)}`);
  }
  if (known.length > 1) {
    report(ctx, path, `must have exactly one of ${CANARY_STEP_KINDS.join(', ')}, got ${known.join(' and ')}`);
    return undefined;
  }
  if (known.length === 0) {
    if (keys.length === 0) report(ctx, path, `must be a mapping with ${STEP_HINT}, got an empty mapping`);
    return undefined;
  }
  const kind = known[0];
  const kp = [...path, kind];
  const value = raw[kind];
  if (kind === 'setWeight') {
    const r = checkPercent(value);
    if (!r.ok) {
      report(ctx, kp, r.error);
      return undefined;
    }
    return { setWeight: r.value };
  }
  if (kind === 'pause') {
    const p = readObj(ctx, kp, value, PAUSE_KEYS);
    if (p === undefined) return undefined;
    if (get(p, 'duration') === undefined) return { pause: {} };
    return { pause: { durationMs: readDuration(ctx, p, kp, 'duration', '0s') } };
  }
  if (kind === 'analysis') {
    // Whether the service has an `analysis` to run is checked with the service (validate.ts).
    if (value === undefined || value === null) {
      report(ctx, kp, 'must be a mapping with duration (e.g. "- analysis: { duration: 30s }")');
      return undefined;
    }
    const a = readObj(ctx, kp, value, ANALYSIS_STEP_KEYS);
    if (a === undefined) return undefined;
    if (get(a, 'duration') === undefined) {
      report(
        ctx,
        [...kp, 'duration'],
        'is required (how long the analysis runs at the current weight, e.g. 30s)',
      );
      return undefined;
    }
    return { analysis: { durationMs: readDuration(ctx, a, kp, 'duration', '0s') } };
  }
  // mirror
  if (value === undefined || value === null) {
    report(ctx, kp, 'must be a mapping with percent (and optionally methods, pathPrefix)');
    return undefined;
  }
  const m = readObj(ctx, kp, value, MIRROR_KEYS);
  if (m === undefined) return undefined;
  const mirror: { percent: number; methods?: string[]; pathPrefix?: string } = { percent: 0 };
  const rawPercent = get(m, 'percent');
  if (rawPercent === undefined) {
    report(
      ctx,
      [...kp, 'percent'],
      'is required (0..100: the share of matching requests copied to the canary)',
    );
  } else {
    const percent = accept(ctx, [...kp, 'percent'], checkPercent(rawPercent));
    if (percent !== undefined) mirror.percent = percent;
  }
  const rawMethods = get(m, 'methods');
  if (rawMethods !== undefined) {
    const mp = [...kp, 'methods'];
    if (!Array.isArray(rawMethods) || rawMethods.length === 0) {
      report(ctx, mp, `must be a non-empty list of HTTP methods (e.g. [GET, HEAD]), ${describe(rawMethods)}`);
    } else {
      const methods: string[] = [];
      rawMethods.forEach((x: unknown, i) => {
        if (typeof x === 'string' && HTTP_TOKEN_RE.test(x)) methods.push(x.toUpperCase());
        else report(ctx, [...mp, String(i)], `must be an HTTP method such as GET, ${describe(x)}`);
      });
      mirror.methods = [...new Set(methods)];
    }
  }
  const rawPrefix = get(m, 'pathPrefix');
  if (rawPrefix !== undefined) {
    if (typeof rawPrefix !== 'string' || !rawPrefix.startsWith('/') || /[\s?#]/.test(rawPrefix)) {
      report(
        ctx,
        [...kp, 'pathPrefix'],
        `must start with "/" and contain no whitespace, "?" or "#", ${describe(rawPrefix)}`,
      );
    } else {
      mirror.pathPrefix = rawPrefix;
    }
  }
  return { mirror };
}
