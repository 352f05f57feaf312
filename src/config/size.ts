/**
 * Byte sizes as written in the config file: `512` (bytes), `64KB`, `10MB`, `1GB`. Units are binary
 * (1KB = 1024 bytes); `B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB` are accepted,
 * case-insensitively. Decimals are allowed (`1.5MB`); the result is rounded down to whole bytes.
 */

export const SIZE_UNITS_HINT =
  'use bytes or a number with a unit: B, KB, MB, GB, TB (e.g. 512, 64KB, 10MB, 1GB)';

const MULTIPLIER: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

export type SizeResult = { ok: true; bytes: number } | { ok: false; error: string };

export function tryParseSize(input: unknown): SizeResult {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return { ok: true, bytes: input };
    return { ok: false, error: `must be a size; ${SIZE_UNITS_HINT}` };
  }
  if (typeof input !== 'string') return { ok: false, error: `must be a size; ${SIZE_UNITS_HINT}` };
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i.exec(input.trim());
  if (!m || !(m[2].toLowerCase() in MULTIPLIER))
    return { ok: false, error: `must be a size; ${SIZE_UNITS_HINT}` };
  const bytes = Math.floor(Number(m[1]) * MULTIPLIER[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) return { ok: false, error: 'must be a size: value is too large' };
  return { ok: true, bytes };
}

/** Parses a size to bytes; throws an Error with a helpful message when invalid. */
export function parseSize(input: string | number): number {
  const r = tryParseSize(input);
  if (!r.ok) throw new Error(`invalid size ${JSON.stringify(input)}: ${r.error}`);
  return r.bytes;
}

/** Formats bytes with the largest binary unit that divides them exactly: 512, 64KB, 10MB. */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of [
    ['TB', 1024 ** 4],
    ['GB', 1024 ** 3],
    ['MB', 1024 ** 2],
    ['KB', 1024],
  ] as const) {
    if (bytes >= mult && bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}
