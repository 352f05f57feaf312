/**
 * What every config validator shares: the issue sink (`Ctx`), dotted paths, and the few helpers for
 * untrusted plain values (own keys only, `null` as absent, short renderings for messages).
 */

import { nodePath } from '../util/builtins.ts';
import type { ConfigIssue } from './types.ts';

export type Path = readonly string[];

export interface Ctx {
  issues: ConfigIssue[];
  /** Directory relative paths are resolved against (absolute). */
  baseDir: string;
  /** 1-based line of the key at `path` (or of its nearest existing ancestor). */
  line?: (path: Path) => number | undefined;
  /** Original source text of the scalar at `path` (so `version: 1.10` stays "1.10"). */
  source?: (path: Path) => string | undefined;
}

export function newCtx(baseDir: string): Ctx {
  return { issues: [], baseDir: nodePath.resolve(baseDir) };
}

export function report(ctx: Ctx, path: Path, message: string): void {
  const issue: ConfigIssue = { path: path.join('.'), message };
  const line = ctx.line?.(path);
  if (line !== undefined) issue.line = line;
  ctx.issues.push(issue);
}

export type Obj = Record<string, unknown>;

/** Sets an own, enumerable property even for keys like `__proto__` (which `o[k] = v` would not). */
export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short rendering of a bad value for messages: `got "abc"`, `got a list`. */
export function describe(v: unknown): string {
  if (v === null) return 'got an empty value';
  if (Array.isArray(v)) return 'got a list';
  if (typeof v === 'object') return 'got a mapping';
  if (typeof v === 'string') {
    const s = v.length > 40 ? `${v.slice(0, 37)}...` : v;
    return `got ${JSON.stringify(s)}`;
  }
  return `got ${String(v)}`;
}

export function get(o: Obj, key: string): unknown {
  const v = Object.hasOwn(o, key) ? o[key] : undefined;
  return v === null ? undefined : v;
}
