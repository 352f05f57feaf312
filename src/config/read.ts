/**
 * Generic readers shared by the config validators: each reports problems into a `Ctx` and returns
 * a usable value (on a problem, the default; the overall result is then a failure anyway).
 */
import { isAbsolute, resolve } from 'node:path';
import { type Ctx, describe, get, isObj, type Obj, type Path, report } from './ctx.ts';
import { tryParseDuration } from './duration.ts';
import { tryParseSize } from './size.ts';
import { didYouMean } from './suggest.ts';

/**
 * Reads a mapping: undefined/null -> {} (all defaults); anything else that is not a mapping is
 * reported. Unknown keys are reported (with a suggestion when one is close).
 */
export function readObj(
  ctx: Ctx,
  path: Path,
  raw: unknown,
  keys: readonly string[],
  /** Ignore `x-` keys (the file's top level). */
  extensions = path.length === 0,
): Obj | undefined {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) {
    report(ctx, path, `must be a mapping of keys (${keys.join(', ')}), ${describe(raw)}`);
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (extensions && k.startsWith('x-')) continue; // extension fields, e.g. for YAML anchors
    if (!keys.includes(k)) report(ctx, [...path, k], `unknown key${didYouMean(k, keys)}`);
  }
  return raw;
}

export function readDuration(ctx: Ctx, o: Obj, path: Path, key: string, def: string, min: 0 | 1 = 1): number {
  const raw = get(o, key) ?? def;
  const r = tryParseDuration(raw);
  if (!r.ok) {
    report(ctx, [...path, key], `${r.error}, ${describe(raw)}`);
    return 0;
  }
  if (r.ms < min) {
    report(ctx, [...path, key], `must be greater than 0, ${describe(raw)}`);
  }
  return r.ms;
}

export function readSize(ctx: Ctx, o: Obj, path: Path, key: string, def: string, min: number): number {
  const raw = get(o, key) ?? def;
  const r = tryParseSize(raw);
  if (!r.ok) {
    report(ctx, [...path, key], `${r.error}, ${describe(raw)}`);
    return 0;
  }
  if (r.bytes < min) report(ctx, [...path, key], `must be at least ${min} byte${min === 1 ? '' : 's'}`);
  return r.bytes;
}

export function readInt(
  ctx: Ctx,
  o: Obj,
  path: Path,
  key: string,
  def: number,
  min: number,
  max?: number,
): number {
  const raw = get(o, key) ?? def;
  if (
    typeof raw !== 'number' ||
    !Number.isSafeInteger(raw) ||
    raw < min ||
    (max !== undefined && raw > max)
  ) {
    const range = max === undefined ? `>= ${min}` : `between ${min} and ${max}`;
    report(ctx, [...path, key], `must be an integer ${range}, ${describe(raw)}`);
    return def;
  }
  return raw;
}

export function readString(
  ctx: Ctx,
  o: Obj,
  path: Path,
  key: string,
  def: string | undefined,
): string | undefined {
  const raw = get(o, key);
  if (raw === undefined) {
    if (def === undefined) report(ctx, [...path, key], 'is required');
    return def;
  }
  if (typeof raw !== 'string') {
    report(ctx, [...path, key], `must be a string, ${describe(raw)}`);
    return undefined;
  }
  return raw;
}

/** Scalars that YAML may have typed (numbers, booleans) as their source text. */
export function scalarText(ctx: Ctx, path: Path, raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') {
    return ctx.source?.(path) ?? String(raw);
  }
  return undefined;
}

export function readBool(ctx: Ctx, o: Obj, path: Path, key: string, def: boolean): boolean {
  const raw = get(o, key) ?? def;
  if (typeof raw !== 'boolean') {
    report(ctx, [...path, key], `must be true or false, ${describe(raw)}`);
    return def;
  }
  return raw;
}

export type PercentResult = Checked<number>;

/** A traffic percentage 0..100: a number (fractions allowed) or a string "12.5%" / "12.5". */
export function checkPercent(raw: unknown): PercentResult {
  let n = Number.NaN;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && /^\s*(\d+(\.\d+)?|\.\d+)\s*%?\s*$/.test(raw))
    n = Number.parseFloat(raw.replace(/^\s*\./, '0.'));
  if (!Number.isFinite(n) || n < 0 || n > 100) {
    return { ok: false, error: `must be a percentage between 0 and 100, ${describe(raw)}` };
  }
  return { ok: true, value: n === 0 ? 0 : n };
}

/** A directory, resolved against the config file's directory. */
export function readDir(ctx: Ctx, o: Obj, path: Path, key: string, def: string): string {
  const s = readString(ctx, o, path, key, def) ?? def;
  if (s.trim() === '') {
    report(ctx, [...path, key], 'must be a non-empty path');
    return ctx.baseDir;
  }
  if (s.includes('\0')) report(ctx, [...path, key], 'must not contain NUL characters');
  return isAbsolute(s) ? resolve(s) : resolve(ctx.baseDir, s);
}

/** A pure check's answer: the accepted value, or why not. */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** The value `r` accepted, or undefined once its error is reported at `path`. */
export function accept<T>(ctx: Ctx, path: Path, r: Checked<T>): T | undefined {
  if (r.ok) return r.value;
  report(ctx, path, r.error);
  return undefined;
}

/** Validates each item of a list at `<path>.<i>` and keeps the ones that validate. */
export function readEach<T>(
  items: readonly unknown[],
  path: Path,
  validate: (path: Path, item: unknown) => T | undefined,
): T[] {
  const out: T[] = [];
  items.forEach((item, i) => {
    const value = validate([...path, String(i)], item);
    if (value !== undefined) out.push(value);
  });
  return out;
}
