/**
 * An etcd v3 client over the JSON gRPC gateway (no gRPC library): key-value, transactions, leases and
 * watches, with failover between endpoints (transport.ts). Reads are linearizable (etcd's default).
 */
import {
  decodeGuardedTxn,
  decodeKvs,
  decodeTxn,
  guardedTxnRequest,
  headerRevision,
  int,
  leaseId,
  putRequest,
  rangeRequest,
  txnRequest,
} from './codec.ts';
import { Transport } from './transport.ts';
import type { Compare, EtcdOptions, KeyValue, TxnRequest, TxnResult, WatchHandle } from './types.ts';
import { type OnError, type OnEvents, startWatch } from './watch.ts';

export { EtcdError, EtcdUnavailableError } from './errors.ts';
export { DEFAULT_REQUEST_TIMEOUT_MS } from './transport.ts';
export type * from './types.ts';
export { WatchCompactedError } from './watch.ts';

function checkKey(what: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '')
    throw new TypeError(`etcd ${what}: key must be a non-empty string, got ${JSON.stringify(key)}`);
}

function checkLease(what: string, lease: unknown): asserts lease is string {
  if (typeof lease !== 'string' || !/^\d+$/.test(lease))
    throw new TypeError(`etcd ${what}: lease must be a decimal id string, got ${JSON.stringify(lease)}`);
}

export class EtcdClient {
  private readonly transport: Transport;
  private readonly watches = new Set<WatchHandle>();

  constructor(opts: EtcdOptions) {
    this.transport = new Transport(opts);
  }

  get endpoints(): readonly string[] {
    return this.transport.endpoints;
  }

  async get(key: string): Promise<KeyValue | null> {
    checkKey('get', key);
    const a = await this.transport.call('/v3/kv/range', rangeRequest(key, false));
    return decodeKvs((a as { kvs?: unknown }).kvs)[0] ?? null;
  }

  /** Every key starting with `prefix`, and the store revision they were read at. */
  async range(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    if (typeof prefix !== 'string')
      throw new TypeError(`etcd range: prefix must be a string, got ${typeof prefix}`);
    const a = await this.transport.call('/v3/kv/range', rangeRequest(prefix, true));
    return { kvs: decodeKvs((a as { kvs?: unknown }).kvs), revision: headerRevision(a) };
  }

  /** The store revision after the put. */
  async put(key: string, value: string, opts: { lease?: string } = {}): Promise<number> {
    checkKey('put', key);
    if (typeof value !== 'string') throw new TypeError(`etcd put ${key}: value must be a string`);
    return headerRevision(await this.transport.call('/v3/kv/put', putRequest(key, value, opts.lease)));
  }

  /** The number of keys deleted. */
  async delete(key: string, opts: { prefix?: boolean } = {}): Promise<number> {
    checkKey('delete', key);
    const a = await this.transport.call('/v3/kv/deleterange', rangeRequest(key, opts.prefix === true));
    return int((a as { deleted?: unknown }).deleted);
  }

  async txn(t: TxnRequest): Promise<TxnResult> {
    return decodeTxn(await this.transport.call('/v3/kv/txn', txnRequest(t)));
  }

  /**
   * Runs `t` only while every `guard` compare holds, in one transaction (etcd's nested txn); null when
   * the guard failed (then nothing of `t` ran). Fenced writes of a leader use it.
   */
  async guardedTxn(guard: Compare[], t: TxnRequest): Promise<TxnResult | null> {
    return decodeGuardedTxn(await this.transport.call('/v3/kv/txn', guardedTxnRequest(guard, t)));
  }

  /** A new lease; its id as a decimal string. */
  async grantLease(ttlSeconds: number): Promise<string> {
    return (await this.grantLeaseWithTtl(ttlSeconds)).id;
  }

  /** A new lease with the TTL etcd granted (at least its minimum, which may exceed the one asked for). */
  async grantLeaseWithTtl(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0)
      throw new TypeError(`etcd grantLease: ttlSeconds must be a positive integer, got ${ttlSeconds}`);
    const a = (await this.transport.call('/v3/lease/grant', { TTL: String(ttlSeconds) })) as {
      ID?: unknown;
      TTL?: unknown;
      error?: unknown;
    };
    if (typeof a.error === 'string' && a.error !== '') throw new Error(`etcd grantLease: ${a.error}`);
    return { id: leaseId(a.ID), ttlSeconds: int(a.TTL) };
  }

  /** Renews the lease once; its remaining TTL in seconds, 0 when it expired or is unknown. */
  async keepAlive(lease: string): Promise<number> {
    checkLease('keepAlive', lease);
    const a = await this.transport.call('/v3/lease/keepalive', { ID: lease });
    return int((a as { result?: { TTL?: unknown } }).result?.TTL);
  }

  /** Revokes the lease (its keys are deleted); a lease already gone is not an error. */
  async revokeLease(lease: string): Promise<void> {
    checkLease('revokeLease', lease);
    try {
      await this.transport.call('/v3/lease/revoke', { ID: lease });
    } catch (err) {
      if (err instanceof Error && err.message.includes('requested lease not found')) return;
      throw err;
    }
  }

  /**
   * Calls onEvents for every change under prefix after `fromRevision` (exclusive); reconnects (any
   * endpoint) on errors and resumes after the last revision delivered. Errors go to onError: a
   * WatchCompactedError when the revisions were compacted (the watch goes on from the current revision).
   */
  watch(prefix: string, fromRevision: number, onEvents: OnEvents, onError?: OnError): WatchHandle {
    const handle = startWatch(this.transport, prefix, fromRevision, onEvents, onError);
    const tracked = {
      close: () => {
        this.watches.delete(tracked);
        handle.close();
      },
    };
    this.watches.add(tracked);
    return tracked;
  }

  /** Closes every watch and the connections. */
  async close(): Promise<void> {
    for (const w of [...this.watches]) w.close();
    await this.transport.close();
  }
}
