/** The etcd client's public data shapes (keys and values as UTF-8 strings; revisions as numbers). */

export interface EtcdOptions {
  /** e.g. ['http://127.0.0.1:2379', ...]; https endpoints use `tls`. */
  endpoints: string[];
  /** etcd auth: a token from /v3/auth/authenticate, fetched again when etcd says it expired. */
  username?: string;
  password?: string;
  /** PEM contents (not paths) for https endpoints. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Bound of one request to one endpoint; default DEFAULT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** Lease id as a decimal string; '0' without a lease. */
  lease: string;
}

export type Compare =
  | {
      key: string;
      target: 'createRevision' | 'modRevision' | 'version';
      op: '=' | '!=' | '<' | '>';
      value: number;
    }
  | { key: string; target: 'value'; op: '=' | '!='; value: string };

export type Op =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string; prefix?: boolean } }
  | { get: { key: string; prefix?: boolean } };

export interface TxnRequest {
  compare: Compare[];
  success: Op[];
  failure?: Op[];
}

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** One list per get op of the branch that ran, in op order. */
  gets: KeyValue[][];
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export interface WatchHandle {
  close(): void;
}
