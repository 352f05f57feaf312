/** Errors of the etcd client: an answer etcd gave, or no usable answer from any endpoint. */

/** An error etcd answered (e.g. an invalid request), with etcd's own message and gRPC code. */
export class EtcdError extends Error {
  readonly code: number;
  readonly endpoint: string;
  constructor(message: string, code: number, endpoint: string) {
    super(`etcd ${endpoint}: ${message}`);
    this.name = 'EtcdError';
    this.code = code;
    this.endpoint = endpoint;
  }
}

export interface EndpointFailure {
  endpoint: string;
  /** Short reason: "ECONNREFUSED", "timeout after 2000 ms", "503 etcdserver: no leader". */
  reason: string;
}

/** No endpoint gave an answer; the message names each endpoint tried and why it failed. */
export class EtcdUnavailableError extends Error {
  readonly failures: EndpointFailure[];
  constructor(failures: EndpointFailure[]) {
    super(`etcd unreachable: ${failures.map((f) => `${f.endpoint} (${f.reason})`).join(', ')}`);
    this.name = 'EtcdUnavailableError';
    this.failures = failures;
  }
}

/** gRPC codes the gateway forwards (in the `code` field of an error answer). */
export const GRPC_UNAVAILABLE = 14;
export const GRPC_UNAUTHENTICATED = 16;
