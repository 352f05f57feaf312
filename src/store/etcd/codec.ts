/**
 * The JSON of etcd's v3 gRPC gateway, both ways: keys and values are base64, int64 are decimal strings,
 * field names are the proto's snake_case ones, and fields at their zero value are left out of answers.
 * Pure: no I/O.
 */
import type { Compare, KeyValue, Op, TxnRequest, TxnResult, WatchEvent } from './types.ts';

export type Wire = Record<string, unknown>;

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown): string =>
  typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '';

/** An int64 field of an answer (a decimal string, or absent for 0). */
export function int(v: unknown): number {
  if (v === undefined || v === null) return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** A lease id (int64 that may exceed 2^53) as its decimal string; '0' when absent. */
export function leaseId(v: unknown): string {
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return v;
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  return '0';
}

/**
 * The `range_end` that makes a range cover every key starting with `prefix`: the prefix with its last
 * byte below 0xff incremented (trailing 0xff bytes dropped); "\0" (every key) for an empty prefix or
 * one made of 0xff bytes only.
 */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]++;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

export function decodeKv(w: unknown): KeyValue {
  const kv = (w ?? {}) as Wire;
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    createRevision: int(kv.create_revision),
    modRevision: int(kv.mod_revision),
    version: int(kv.version),
    lease: leaseId(kv.lease),
  };
}

export function decodeKvs(w: unknown): KeyValue[] {
  return Array.isArray(w) ? w.map(decodeKv) : [];
}

/** The store revision in an answer's header. */
export function headerRevision(answer: unknown): number {
  return int(((answer as Wire | null)?.header as Wire | undefined)?.revision);
}

export function rangeRequest(key: string, prefix: boolean): Wire {
  return prefix ? { key: b64(key), range_end: prefixRangeEnd(key) } : { key: b64(key) };
}

const COMPARE_RESULT: Record<string, string> = {
  '=': 'EQUAL',
  '!=': 'NOT_EQUAL',
  '<': 'LESS',
  '>': 'GREATER',
};
const COMPARE_TARGET: Record<string, [string, string]> = {
  createRevision: ['CREATE', 'create_revision'],
  modRevision: ['MOD', 'mod_revision'],
  version: ['VERSION', 'version'],
  value: ['VALUE', 'value'],
};

function describe(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** One compare of a txn; `where` names it in errors ("txn compare[2]"). */
export function encodeCompare(c: Compare, where: string): Wire {
  if (c === null || typeof c !== 'object') throw new TypeError(`${where}: not an object: ${describe(c)}`);
  if (typeof c.key !== 'string' || c.key === '')
    throw new TypeError(`${where}: key must be a non-empty string, got ${describe(c.key)}`);
  const target = COMPARE_TARGET[c.target];
  if (target === undefined)
    throw new TypeError(
      `${where}: target must be createRevision, modRevision, version or value, got ${describe(c.target)}`,
    );
  const result = COMPARE_RESULT[c.op];
  if (result === undefined || (c.target === 'value' && c.op !== '=' && c.op !== '!='))
    throw new TypeError(`${where}: op ${describe(c.op)} is not allowed for target ${c.target}`);
  if (c.target === 'value') {
    if (typeof c.value !== 'string') throw new TypeError(`${where}: value must be a string for target value`);
    return { key: b64(c.key), target: target[0], result, value: b64(c.value) };
  }
  if (!Number.isSafeInteger(c.value) || c.value < 0)
    throw new TypeError(`${where}: value must be a non-negative integer, got ${describe(c.value)}`);
  return { key: b64(c.key), target: target[0], result, [target[1]]: String(c.value) };
}

/** One op of a txn branch; `where` names it in errors ("txn success[0]"). */
export function encodeOp(op: Op, where: string): Wire {
  if (op === null || typeof op !== 'object') throw new TypeError(`${where}: not an object: ${describe(op)}`);
  const kinds = Object.keys(op);
  if (kinds.length !== 1 || !['put', 'delete', 'get'].includes(kinds[0]))
    throw new TypeError(`${where}: must have exactly one of put, delete, get; got ${describe(kinds)}`);
  const body = (op as Record<string, { key?: unknown; value?: unknown; lease?: unknown; prefix?: unknown }>)[
    kinds[0]
  ];
  if (body === null || typeof body !== 'object' || typeof body.key !== 'string' || body.key === '')
    throw new TypeError(`${where}.${kinds[0]}: key must be a non-empty string`);
  if ('put' in op) {
    if (typeof op.put.value !== 'string') throw new TypeError(`${where}.put: value must be a string`);
    return { request_put: putRequest(op.put.key, op.put.value, op.put.lease) };
  }
  if ('delete' in op) return { request_delete_range: rangeRequest(op.delete.key, op.delete.prefix === true) };
  return { request_range: rangeRequest(op.get.key, op.get.prefix === true) };
}

export function putRequest(key: string, value: string, lease?: string): Wire {
  const w: Wire = { key: b64(key), value: b64(value) };
  if (lease !== undefined && lease !== '0') {
    if (!/^\d+$/.test(lease))
      throw new TypeError(`put ${key}: lease must be a decimal id, got ${describe(lease)}`);
    w.lease = lease;
  }
  return w;
}

export function txnRequest(t: TxnRequest, where = 'txn'): Wire {
  if (t === null || typeof t !== 'object' || !Array.isArray(t.compare) || !Array.isArray(t.success))
    throw new TypeError(`${where}: needs compare and success arrays`);
  if (t.failure !== undefined && !Array.isArray(t.failure))
    throw new TypeError(`${where}: failure must be an array`);
  return {
    compare: t.compare.map((c, i) => encodeCompare(c, `${where} compare[${i}]`)),
    success: t.success.map((o, i) => encodeOp(o, `${where} success[${i}]`)),
    failure: (t.failure ?? []).map((o, i) => encodeOp(o, `${where} failure[${i}]`)),
  };
}

/** A txn that runs `inner` only while every `guard` compare holds (etcd's nested txn, 3.3 on). */
export function guardedTxnRequest(guard: Compare[], inner: TxnRequest): Wire {
  return {
    compare: guard.map((c, i) => encodeCompare(c, `guard compare[${i}]`)),
    success: [{ request_txn: txnRequest(inner) }],
    failure: [],
  };
}

/** A txn answer: which branch ran and the kvs of its get ops, in op order. */
export function decodeTxn(answer: unknown, revision = headerRevision(answer)): TxnResult {
  const a = (answer ?? {}) as Wire;
  const responses = Array.isArray(a.responses) ? (a.responses as Wire[]) : [];
  const gets = responses
    .filter((r) => r && 'response_range' in r)
    .map((r) => decodeKvs((r.response_range as Wire | null)?.kvs));
  return { succeeded: a.succeeded === true, revision, gets };
}

/** The inner result of a guarded txn, or null when the guard failed. */
export function decodeGuardedTxn(answer: unknown): TxnResult | null {
  const a = (answer ?? {}) as Wire;
  if (a.succeeded !== true) return null;
  const first = Array.isArray(a.responses) ? (a.responses[0] as Wire | undefined) : undefined;
  return decodeTxn(first?.response_txn, headerRevision(answer));
}

export function decodeEvents(w: unknown): WatchEvent[] {
  if (!Array.isArray(w)) return [];
  return w.map((e: Wire) => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: decodeKv(e.kv) }));
}
