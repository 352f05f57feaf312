/**
 * Durations as written in the config file: `500ms`, `10s`, `2m`, `1h`, `180d`, and combinations such as
 * `1m30s` or `1h2m3s500ms` (largest unit first, each unit at most once). Decimals are allowed
 * (`1.5s`); the result is rounded to whole milliseconds. A bare number is rejected because it is
 * ambiguous (seconds? milliseconds?).
 */

export const DURATION_UNITS_HINT = 'units ms, s, m, h, d; e.g. 500ms, 10s, 2m, 1h, 1m30s, 180d';

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const UNIT_ORDER = ['d', 'h', 'm', 's', 'ms'];
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|d|h|m|s)/y;

export type DurationResult = { ok: true; ms: number } | { ok: false; error: string };

/** Non-throwing parse; `error` is a complete sentence fragment suitable for a ConfigIssue message. */
export function tryParseDuration(input: unknown): DurationResult {
  if (typeof input === 'number') {
    return { ok: false, error: `must be a duration with a unit, not a bare number (${DURATION_UNITS_HINT})` };
  }
  if (typeof input !== 'string') {
    return { ok: false, error: `must be a duration (${DURATION_UNITS_HINT})` };
  }
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    return { ok: false, error: `must be a duration with a unit, not a bare number (${DURATION_UNITS_HINT})` };
  }
  if (text === '') return { ok: false, error: `must be a duration (${DURATION_UNITS_HINT})` };
  let total = 0;
  let pos = 0;
  let lastUnit = -1;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) {
      return { ok: false, error: `must be a duration (${DURATION_UNITS_HINT})` };
    }
    const unitIdx = UNIT_ORDER.indexOf(m[2]);
    if (unitIdx <= lastUnit) {
      return {
        ok: false,
        error: `must be a duration like 1m30s: list units from largest to smallest, each at most once`,
      };
    }
    lastUnit = unitIdx;
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = PART.lastIndex;
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) return { ok: false, error: 'must be a duration: value is too large' };
  return { ok: true, ms };
}

/** Parses a duration to milliseconds; throws an Error with a helpful message when invalid. */
export function parseDuration(input: string): number {
  const r = tryParseDuration(input);
  if (!r.ok) throw new Error(`invalid duration ${JSON.stringify(input)}: ${r.error}`);
  return r.ms;
}

/** Formats milliseconds the way the config file writes them: 0s, 500ms, 10s, 1m30s, 1h2m3s500ms. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  let out = '';
  for (const unit of UNIT_ORDER) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return sign + out;
}
