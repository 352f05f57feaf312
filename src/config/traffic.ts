/**
 * `services.<name>.traffic`: sticky key and request-level rules that route between stable and
 * canary. Also the runtime validators the control API uses (`cutover rules`, `cutover set-weight`).
 */

import { type Ctx, describe, get, isObj, newCtx, type Path, report, setOwn } from './ctx.ts';
import {
  HTTP_TOKEN_RE,
  MATCH_KEYS,
  NAMED_MATCH_KINDS,
  RULE_KEYS,
  RULE_TARGETS,
  STICKY_SOURCES,
  STRING_MATCH_KINDS,
  TRAFFIC_KEYS,
} from './keys.ts';
import { compilePattern } from './pattern.ts';
import { accept, type Checked, checkPercent, readObj, scalarText } from './read.ts';
import { didYouMean } from './suggest.ts';
import type { ConfigIssue, RuleMatch, StringMatch, TrafficConfig, TrafficRule } from './types.ts';

const STICKY_HINT = 'must be "header:NAME", "cookie:NAME" or "query:NAME" (e.g. header:X-User-Id)';

type Sticky = NonNullable<TrafficConfig['stickyBy']>;

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters
const CONTROL_RE = /[\x00-\x1f\x7f]/;

function checkSticky(raw: unknown): Checked<Sticky> {
  if (typeof raw !== 'string') return { ok: false, error: `${STICKY_HINT}, ${describe(raw)}` };
  const colon = raw.indexOf(':');
  if (colon < 0) return { ok: false, error: `${STICKY_HINT}, ${describe(raw)}` };
  const source = raw.slice(0, colon).trim();
  const name = raw.slice(colon + 1).trim();
  if (!(STICKY_SOURCES as readonly string[]).includes(source)) {
    return {
      ok: false,
      error: `${STICKY_HINT}; unknown source ${JSON.stringify(source)}${didYouMean(source, STICKY_SOURCES)}`,
    };
  }
  if (name === '') return { ok: false, error: `${STICKY_HINT}; the name after "${source}:" is missing` };
  const bad = nameError(source as Sticky['source'], name);
  if (bad) return { ok: false, error: `${STICKY_HINT}; ${bad}` };
  return {
    ok: true,
    value: { source: source as Sticky['source'], name: source === 'header' ? name.toLowerCase() : name },
  };
}

/** Why `name` is not a valid header/cookie/query name, or undefined. */
function nameError(kind: 'header' | 'cookie' | 'query', name: string): string | undefined {
  if (name === '') return `${kind} name must not be empty`;
  if (kind === 'query') {
    return CONTROL_RE.test(name) || /[\s&=#]/.test(name)
      ? `${JSON.stringify(name)} is not a valid query parameter name (no whitespace, "&", "=" or "#")`
      : undefined;
  }
  return HTTP_TOKEN_RE.test(name) ? undefined : `${JSON.stringify(name)} is not a valid ${kind} name`;
}

function readPattern(ctx: Ctx, path: Path, raw: unknown): string | undefined {
  if (typeof raw !== 'string') {
    report(ctx, path, `must be a regular expression (a string), ${describe(raw)}`);
    return undefined;
  }
  const r = compilePattern(raw);
  if (!r.ok) {
    report(ctx, path, r.message);
    return undefined;
  }
  return raw;
}

const STRING_MATCH_HINT = 'a string (exact match) or one of { exact: .. }, { prefix: .. }, { regex: .. }';

function readStringMatch(ctx: Ctx, path: Path, raw: unknown): StringMatch | undefined {
  const text = scalarText(ctx, path, raw);
  if (text !== undefined) return { exact: text };
  if (!isObj(raw)) {
    report(ctx, path, `must be ${STRING_MATCH_HINT}, ${describe(raw)}`);
    return undefined;
  }
  const keys = Object.keys(raw);
  for (const k of keys) {
    if (!(STRING_MATCH_KINDS as readonly string[]).includes(k)) {
      report(ctx, [...path, k], `unknown key${didYouMean(k, STRING_MATCH_KINDS)}`);
    }
  }
  const kinds = keys.filter((k) => (STRING_MATCH_KINDS as readonly string[]).includes(k));
  if (kinds.length !== 1) {
    if (kinds.length > 1)
      report(ctx, path, `must have exactly one of exact, prefix, regex, got ${kinds.join(' and ')}`);
    else if (keys.length === 0) report(ctx, path, `must be ${STRING_MATCH_HINT}, got an empty mapping`);
    return undefined;
  }
  const kind = kinds[0] as (typeof STRING_MATCH_KINDS)[number];
  const kp = [...path, kind];
  const value = raw[kind];
  if (kind === 'regex') {
    const re = readPattern(ctx, kp, value);
    return re === undefined ? undefined : { regex: re };
  }
  const v = scalarText(ctx, kp, value);
  if (v === undefined) {
    report(ctx, kp, `must be a string, ${describe(value)}`);
    return undefined;
  }
  if (kind === 'prefix' && v === '') {
    report(ctx, kp, 'must not be empty (an empty prefix matches everything, even a missing value)');
    return undefined;
  }
  return kind === 'exact' ? { exact: v } : { prefix: v };
}

function readMatchMap(
  ctx: Ctx,
  path: Path,
  raw: unknown,
  kind: 'header' | 'cookie' | 'query',
): Record<string, StringMatch> | undefined {
  if (!isObj(raw)) {
    report(ctx, path, `must be a mapping of ${kind} name to value, ${describe(raw)}`);
    return undefined;
  }
  const entries = Object.entries(raw);
  if (entries.length === 0) {
    report(
      ctx,
      path,
      `must name at least one ${kind} (e.g. ${kind}: { ${kind === 'header' ? 'X-Beta' : 'beta'}: "1" })`,
    );
    return undefined;
  }
  const out: Record<string, StringMatch> = {};
  const seen = new Map<string, string>();
  for (const [name, v] of entries) {
    const p = [...path, name];
    const bad = nameError(kind, name);
    if (bad) {
      report(ctx, p, bad);
      continue;
    }
    const key = kind === 'header' ? name.toLowerCase() : name;
    const first = seen.get(key);
    if (first !== undefined) {
      report(ctx, p, `same header as "${first}" (header names are case-insensitive)`);
      continue;
    }
    seen.set(key, name);
    const m = readStringMatch(ctx, p, v);
    if (m) setOwn(out, key, m);
  }
  return out;
}

function readUserIn(ctx: Ctx, path: Path, raw: unknown): string[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    report(ctx, path, `must be a non-empty list of sticky keys (e.g. [alice, bob]), ${describe(raw)}`);
    return undefined;
  }
  const users: string[] = [];
  raw.forEach((x: unknown, i) => {
    const p = [...path, String(i)];
    const text = scalarText(ctx, p, x);
    if (text === undefined || text === '') report(ctx, p, `must be a non-empty string, ${describe(x)}`);
    else users.push(text);
  });
  return [...new Set(users)];
}

function validateMatch(ctx: Ctx, path: Path, raw: unknown, sticky: boolean, stickyPath: Path): RuleMatch {
  const match: RuleMatch = {};
  if (raw === undefined || raw === null) {
    report(ctx, path, `is required: at least one of ${MATCH_KEYS.join(', ')}`);
    return match;
  }
  const o = readObj(ctx, path, raw, MATCH_KEYS);
  if (o === undefined) return match;
  if (!MATCH_KEYS.some((k) => get(o, k) !== undefined)) {
    report(ctx, path, `must have at least one condition (${MATCH_KEYS.join(', ')})`);
    return match;
  }
  for (const kind of NAMED_MATCH_KINDS) {
    const v = get(o, kind);
    if (v === undefined) continue;
    const m = readMatchMap(ctx, [...path, kind], v, kind);
    if (m) match[kind] = m;
  }
  const userIn = get(o, 'userIn');
  if (userIn !== undefined) {
    const users = readUserIn(ctx, [...path, 'userIn'], userIn);
    if (users) match.userIn = users;
    if (!sticky) {
      report(
        ctx,
        [...path, 'userIn'],
        `requires ${stickyPath.join('.')} (userIn compares the sticky key, e.g. stickyBy: header:X-User-Id)`,
      );
    }
  }
  const ua = get(o, 'userAgent');
  if (ua !== undefined) {
    const re = readPattern(ctx, [...path, 'userAgent'], ua);
    if (re !== undefined) match.userAgent = re;
  }
  return match;
}

function validateRule(
  ctx: Ctx,
  path: Path,
  raw: unknown,
  sticky: boolean,
  stickyPath: Path,
): TrafficRule | undefined {
  if (!isObj(raw)) {
    report(ctx, path, `must be a mapping with match and to, ${describe(raw)}`);
    return undefined;
  }
  const o = readObj(ctx, path, raw, RULE_KEYS) ?? {};
  const match = validateMatch(ctx, [...path, 'match'], get(o, 'match'), sticky, stickyPath);
  const to = get(o, 'to');
  if (to === undefined) {
    report(ctx, [...path, 'to'], 'is required: stable or canary');
    return undefined;
  }
  if (to !== 'stable' && to !== 'canary') {
    const hint = typeof to === 'string' ? didYouMean(to, RULE_TARGETS) : '';
    report(ctx, [...path, 'to'], `must be "stable" or "canary", ${describe(to)}${hint}`);
    return undefined;
  }
  return { match, to };
}

/** Validates a `traffic` mapping (undefined/null: no sticky key, no rules). */
export function validateTrafficAt(ctx: Ctx, path: Path, raw: unknown): TrafficConfig {
  const traffic: TrafficConfig = { rules: [] };
  const o = readObj(ctx, path, raw, TRAFFIC_KEYS, false);
  if (o === undefined) return traffic;
  const rawSticky = get(o, 'stickyBy');
  if (rawSticky !== undefined) {
    const stickyBy = accept(ctx, [...path, 'stickyBy'], checkSticky(rawSticky));
    if (stickyBy) traffic.stickyBy = stickyBy;
  }
  const rawRules = get(o, 'rules');
  if (rawRules !== undefined) {
    const rp = [...path, 'rules'];
    if (!Array.isArray(rawRules)) {
      report(
        ctx,
        rp,
        `must be a list of rules ({ match: {...}, to: stable | canary }), ${describe(rawRules)}`,
      );
    } else {
      rawRules.forEach((r: unknown, i) => {
        const rule = validateRule(ctx, [...rp, String(i)], r, rawSticky !== undefined, [...path, 'stickyBy']);
        if (rule) traffic.rules.push(rule);
      });
    }
  }
  return traffic;
}

export type TrafficResult = { ok: true; traffic: TrafficConfig } | { ok: false; issues: ConfigIssue[] };
export type WeightResult = { ok: true; weight: number } | { ok: false; issues: ConfigIssue[] };

/**
 * Validates a traffic object received at runtime (e.g. the body of `cutover rules`) with the same
 * checks as the config file. Issue paths start with `pathPrefix` ('' for none); no line numbers.
 */
export function validateTraffic(raw: unknown, pathPrefix = 'traffic'): TrafficResult {
  const ctx = newCtx('/');
  const traffic = validateTrafficAt(ctx, pathPrefix === '' ? [] : [pathPrefix], raw ?? {});
  if (ctx.issues.length > 0) return { ok: false, issues: ctx.issues };
  return { ok: true, traffic };
}

/**
 * Validates a canary weight (`cutover set-weight`): a number 0..100 (fractions allowed), or a
 * string such as "25" or "12.5%". Issue path: `weight`.
 */
export function validateWeight(raw: unknown): WeightResult {
  const r = checkPercent(raw);
  if (!r.ok) return { ok: false, issues: [{ path: 'weight', message: r.error }] };
  return { ok: true, weight: r.value };
}
