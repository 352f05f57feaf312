/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for the gateway: a valid incoming `traceparent`
 * (and its `tracestate`) passes through unchanged; otherwise the gateway starts a trace with a fresh
 * `00-<trace id>-<span id>-01` so that a trace spans gateway and service.
 */
import { nodeCrypto } from '../util/builtins.ts';

const POOL_BYTES = 24 * 256;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function allZero(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/**
 * Whether `v` is a traceparent we may forward: version 00 with exactly 55 characters, or a later version
 * (not ff) whose first 55 characters follow the 00 layout (followed by `-` if longer); non-zero ids.
 */
export function isValidTraceparent(v: string): boolean {
  if (v.length < 55) return false;
  if (v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) return false;
  if (!isLowerHex(v, 0, 2) || v.startsWith('ff')) return false;
  if (v.startsWith('00') ? v.length !== 55 : v.length > 55 && v.charCodeAt(55) !== 45) return false;
  if (!isLowerHex(v, 3, 35) || !isLowerHex(v, 36, 52) || !isLowerHex(v, 53, 55)) return false;
  return !allZero(v, 3, 35) && !allZero(v, 36, 52);
}

/** A new sampled traceparent with random trace and span ids (random bytes drawn from a pool). */
export function newTraceparent(): string {
  if (offset + 24 > POOL_BYTES) {
    nodeCrypto.randomFillSync(pool);
    offset = 0;
  }
  const o = offset;
  offset += 24;
  // A zero id is invalid; with 128 random bits it does not happen, but stay correct.
  if (
    (pool.readInt32LE(o) | pool.readInt32LE(o + 4) | pool.readInt32LE(o + 8) | pool.readInt32LE(o + 12)) ===
    0
  )
    pool[o] = 1;
  if ((pool.readInt32LE(o + 16) | pool.readInt32LE(o + 20)) === 0) pool[o + 16] = 1;
  return `00-${pool.toString('hex', o, o + 16)}-${pool.toString('hex', o + 16, o + 24)}-01`;
}
