/**
 * Request-level traffic policy between the roles of one service (canary / blue-green releases): a
 * `RouteTraffic` (see protocol.ts for the decision order) compiled once per route table into a decision
 * function `(headers, target) -> role`, and the mirror filter. Pure: no I/O, no gateway state.
 *
 * Per request the decision allocates nothing unless a rule or `stickyBy` needs cookies or the query,
 * which are then parsed once (lazily) for that request.
 */
import { compilePattern } from '../config/pattern.ts';
import type { StringMatch } from '../config/types.ts';
import type { RouteTraffic, UpstreamRole } from './protocol.ts';

/** node:http's `req.headers` shape: lower-case names, repeated fields joined. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** `target` is the origin-form request target (`/path?query`). */
export type Decide = (headers: RequestHeaders, target: string) => UpstreamRole;

export interface CompiledTraffic {
  decide: Decide;
  /** Patterns that did not compile (the rule condition then never holds); empty after validation. */
  problems: string[];
}

/** 32-bit FNV-1a over the UTF-8 bytes of `key`. */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return fnv1a32Bytes(Buffer.from(key, 'utf8'));
    h ^= c;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The sticky bucket of a key, 0..9999: canary iff bucket < canaryWeight * 100. */
export function bucketOf(key: string): number {
  return fnv1a32(key) % 10000;
}

/** Per-request view, built only when a rule or the sticky key needs more than a header. */
class Inputs {
  readonly headers: RequestHeaders;
  readonly target: string;
  #query: URLSearchParams | null = null;

  constructor(headers: RequestHeaders, target: string) {
    this.headers = headers;
    this.target = target;
  }

  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  cookie(name: string): string | undefined {
    const header = this.headers.cookie;
    if (header === undefined) return undefined;
    return findCookie(typeof header === 'string' ? header : header.join('; '), name);
  }

  query(name: string): string | undefined {
    if (this.#query === null) {
      const q = this.target.indexOf('?');
      this.#query = new URLSearchParams(q === -1 ? '' : this.target.slice(q + 1));
    }
    return this.#query.get(name) ?? undefined;
  }
}

export function headerValue(headers: RequestHeaders, lowerName: string): string | undefined {
  const v = headers[lowerName];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(', ');
}

/** The value of cookie `name` in a Cookie header (first occurrence wins, surrounding quotes removed, no decoding), without parsing the rest. */
export function findCookie(header: string, name: string): string | undefined {
  let pos = 0;
  const len = header.length;
  while (pos < len) {
    let end = header.indexOf(';', pos);
    if (end === -1) end = len;
    const eq = header.indexOf('=', pos);
    if (eq !== -1 && eq < end) {
      let a = pos;
      let b = eq;
      while (a < b && isSpace(header.charCodeAt(a))) a++;
      while (b > a && isSpace(header.charCodeAt(b - 1))) b--;
      if (b - a === name.length && header.startsWith(name, a)) {
        let value = header.slice(eq + 1, end).trim();
        if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
          value = value.slice(1, -1);
        }
        return value;
      }
    }
    pos = end + 1;
  }
  return undefined;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

type Condition = (inp: Inputs) => boolean;
type ValueTest = (value: string) => boolean;

function compileStringMatch(m: StringMatch, where: string, problems: string[]): ValueTest {
  if ('exact' in m) {
    const want = m.exact;
    return (v) => v === want;
  }
  if ('prefix' in m) {
    const want = m.prefix;
    return (v) => v.startsWith(want);
  }
  const r = compilePattern(m.regex);
  if (!r.ok) {
    problems.push(`${where}.regex: ${r.message}`);
    return () => false;
  }
  const re = r.re;
  return (v) => re.test(v);
}

/** Returns the sticky key reader, or null without `stickyBy`. */
function stickyReader(t: RouteTraffic): ((inp: Inputs) => string | undefined) | null {
  const s = t.stickyBy;
  if (s === undefined) return null;
  const name = s.source === 'header' ? s.name.toLowerCase() : s.name;
  const read =
    s.source === 'header'
      ? (inp: Inputs) => inp.header(name)
      : s.source === 'cookie'
        ? (inp: Inputs) => inp.cookie(name)
        : (inp: Inputs) => inp.query(name);
  return (inp) => {
    const v = read(inp);
    return v === '' ? undefined : v;
  };
}

/** Compiles a (validated) `RouteTraffic`. Never throws. */
export function compileTraffic(t: RouteTraffic): CompiledTraffic {
  const problems: string[] = [];
  const sticky = stickyReader(t);
  const rules: { conditions: Condition[]; to: UpstreamRole }[] = [];
  t.rules.forEach((rule, i) => {
    const at = `rules[${i}].match`;
    const conditions: Condition[] = [];
    const m = rule.match;
    for (const [kind, map] of [
      ['header', m.header],
      ['cookie', m.cookie],
      ['query', m.query],
    ] as const) {
      if (map === undefined) continue;
      for (const [rawName, sm] of Object.entries(map)) {
        const test = compileStringMatch(sm, `${at}.${kind}[${JSON.stringify(rawName)}]`, problems);
        if (kind === 'header') {
          const name = rawName.toLowerCase();
          conditions.push((inp) => {
            const v = inp.header(name);
            return v !== undefined && test(v);
          });
        } else if (kind === 'cookie') {
          conditions.push((inp) => {
            const v = inp.cookie(rawName);
            return v !== undefined && test(v);
          });
        } else {
          conditions.push((inp) => {
            const v = inp.query(rawName);
            return v !== undefined && test(v);
          });
        }
      }
    }
    if (m.userIn !== undefined) {
      const users = new Set(m.userIn);
      const read = sticky;
      conditions.push((inp) => {
        if (read === null) return false;
        const key = read(inp);
        return key !== undefined && users.has(key);
      });
    }
    if (m.userAgent !== undefined) {
      const r = compilePattern(m.userAgent);
      if (!r.ok) {
        problems.push(`${at}.userAgent: ${r.message}`);
        conditions.push(() => false);
      } else {
        const re = r.re;
        conditions.push((inp) => {
          const ua = inp.header('user-agent');
          return ua !== undefined && re.test(ua);
        });
      }
    }
    // A rule without conditions would match everything; validation rejects it, so never let it match.
    if (conditions.length === 0) conditions.push(() => false);
    rules.push({ conditions, to: rule.to });
  });

  const weight = t.canaryWeight;
  const threshold = weight * 100;
  const previewHeader = t.preview?.header.toLowerCase();
  const previewValue = t.preview?.value;

  const byWeight =
    weight <= 0
      ? (): UpstreamRole => 'stable'
      : weight >= 100
        ? (): UpstreamRole => 'canary'
        : sticky === null
          ? (): UpstreamRole => (Math.random() * 100 < weight ? 'canary' : 'stable')
          : (inp: Inputs | null): UpstreamRole => {
              const key = inp === null ? undefined : sticky(inp);
              if (key === undefined) return Math.random() * 100 < weight ? 'canary' : 'stable';
              return fnv1a32(key) % 10000 < threshold ? 'canary' : 'stable';
            };
  const needsInputs = rules.length > 0 || (sticky !== null && weight > 0 && weight < 100);

  const decide: Decide = (headers, target) => {
    if (previewHeader !== undefined && headerValue(headers, previewHeader) === previewValue) return 'preview';
    if (!needsInputs) return byWeight(null);
    const inp = new Inputs(headers, target);
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      const conds = r.conditions;
      let all = true;
      for (let j = 0; j < conds.length; j++) {
        if (!conds[j](inp)) {
          all = false;
          break;
        }
      }
      if (all) return r.to;
    }
    return byWeight(inp);
  };
  return { decide, problems };
}

/** `traffic.mirror` compiled: which requests served by stable are copied to a canary. */
export interface MirrorFilter {
  percent: number;
  maxBodyBytes: number;
  /** Method and path (origin-form target, query ignored) filters; the sample is drawn by the caller. */
  matches(method: string, target: string): boolean;
}

export function compileMirror(m: NonNullable<RouteTraffic['mirror']>): MirrorFilter {
  const methods =
    m.methods === undefined || m.methods.length === 0 ? null : new Set(m.methods.map((x) => x.toUpperCase()));
  const prefix = m.pathPrefix === undefined || m.pathPrefix === '/' ? null : m.pathPrefix;
  return {
    percent: m.percent,
    maxBodyBytes: m.maxBodyBytes,
    matches(method, target) {
      if (methods !== null && !methods.has(method)) return false;
      return prefix === null || pathHasPrefix(target, prefix);
    },
  };
}

/** Segment-aware like the router: `/api` matches `/api`, `/api/x`, `/api?q`, not `/apix`. */
export function pathHasPrefix(target: string, prefix: string): boolean {
  if (!target.startsWith(prefix)) return false;
  if (prefix.endsWith('/') || target.length === prefix.length) return true;
  const next = target.charCodeAt(prefix.length);
  return next === 47 || next === 63 || next === 35;
}
