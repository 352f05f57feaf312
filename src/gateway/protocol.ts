import type {
  FaultConfig,
  GatewayConfig,
  LoadBalancer,
  TrafficPolicy,
  TrafficRule,
} from '../config/types.ts';

/**
 * The contract between the controller and the gateway master process.
 *
 * The gateway master serves a small HTTP admin API on a Unix socket (`GatewaySettings.adminSocket`):
 *   PUT  /routes    body RouteTable -> 200 {"version":N} once EVERY worker has applied it
 *                   (and the table is persisted). A table older than the current one is not applied:
 *                   200 {"version":CURRENT,"ignored":true}. Invalid body -> 400 {"error":"...","problems":[...]}.
 *                   Workers that do not ack within 10 s -> 503 {"error":"..."}.
 *   GET  /routes    -> RouteTable (the last applied one)
 *   GET  /inflight  -> InflightReport (summed over workers, includes instances already removed
 *                      from the table whose requests are still running)
 *   GET  /healthz   -> 200 {"ok":true,"workers":N,"version":V,"pid":P,"workerPids":[...]}
 *   GET  /stats     -> StatsReport (summed over the workers running now, plus the last counters of exited
 *                      workers so counters stay monotonic across a worker restart; see StatsReport)
 *   PUT  /serving   body {"serving":false,"reason":"host drain"} | {"serving":true} -> 200
 *                   {"serving":B,"reason"?:R,"applied":[worker pids]} once every worker answers its health
 *                   check accordingly (the state is persisted: reloads, re-execs and restarts keep it)
 *   GET  /serving   -> {"serving":B,"reason"?:R}
 * SIGTERM: stop accepting, finish in-flight (up to `shutdownTimeoutMs`), exit 0.
 *
 * The gateway keeps serving its last table when the controller goes away; it persists the table
 * to `routesFile` so a restarted worker (or gateway) starts with it.
 */

/** How the gateway speaks to a service's instances. */
export type UpstreamProtocol = 'http' | 'h2c' | 'grpc';

/** Which side of a release an instance serves. Absent means `stable`. */
export type UpstreamRole = 'stable' | 'canary' | 'preview';

export interface RouteUpstream {
  /** Instance id, e.g. `web-3-a1b2`. Stable for the life of the instance. */
  instance: string;
  revision: number;
  version: string;
  /** `host:port` of the instance. */
  address: string;
  role?: UpstreamRole;
}

/**
 * Request-level routing between the roles of one service. Without it, every upstream is one pool.
 * Order of decisions per request (and per WebSocket upgrade):
 *  1. `preview` header matches -> a `preview` upstream (503 if none). Preview upstreams get nothing else.
 *  2. `rules` in order; the first whose conditions ALL hold picks `stable` or `canary`.
 *  3. Else the weight: with `stickyBy` and the key present, bucket = fnv1a32(key) % 10000 and the
 *     request goes to canary iff bucket < canaryWeight * 100 (sticky per key, monotonic as the
 *     weight grows); without a key, canary with probability canaryWeight / 100.
 *  An empty chosen group falls back to the other one (stable <-> canary).
 *  4. `mirror`: a request served by stable is, with probability percent / 100 (and matching the
 *     optional method / path filters, body <= maxBodyBytes), also sent to a canary upstream; that
 *     response is discarded and only recorded in the gateway's stats.
 *
 * Matching details (gateway): header names are case-insensitive; repeated headers are joined with ", ";
 * cookie values are compared as sent (surrounding quotes removed, no URL decoding); query values are
 * URL-decoded (first occurrence); an absent header/cookie/parameter never matches; an empty sticky key
 * counts as absent. Mirror `methods` are case-insensitive; `pathPrefix` is segment-aware like a route's.
 * The copy carries the original headers (X-Request-Id included) plus `X-Cutover-Mirror: 1`; clients
 * cannot send that header themselves (the gateway strips it).
 */
export interface RouteTraffic {
  /** 0..100 (fractions allowed). */
  canaryWeight: number;
  stickyBy?: { source: 'header' | 'cookie' | 'query'; name: string };
  rules: TrafficRule[];
  preview?: { header: string; value: string };
  mirror?: { percent: number; methods?: string[]; pathPrefix?: string; maxBodyBytes: number };
}

export interface RouteService {
  name: string;
  /** `*` matches any Host; otherwise exact host (port ignored), case-insensitive. */
  host: string;
  /** Longest matching prefix wins; `/api` matches `/api` and `/api/x`, not `/apix`. */
  pathPrefix: string;
  /** How an instance is chosen within the revision the traffic split picked (`hash`: on `policy.hashKey`). */
  balance: LoadBalancer;
  /** Limits, outlier detection, timeouts, retries (src/gateway/policy*.ts); absent: none. */
  policy?: TrafficPolicy;
  /**
   * How the gateway talks to the instances: `http` (HTTP/1.1, the default when absent), `h2c` (HTTP/2
   * cleartext with prior knowledge, one multiplexed connection per instance and worker) or `grpc` (h2c,
   * trailers relayed, and a `grpc-status` in `grpcFailureCodes` counts as an error of the revision).
   */
  protocol?: UpstreamProtocol;
  /** gRPC status codes (numbers) that count as a failed request; only with `protocol: grpc`. */
  grpcFailureCodes?: number[];
  /**
   * The service's drainTimeout. With `protocol: grpc`, calls still running on a removed instance this long
   * after the table that removed it are ended by the gateway with `grpc-status: 14` (UNAVAILABLE) in the
   * trailers; absent: the gateway never ends them itself.
   */
  drainTimeoutMs?: number;
  /** Ready, routable instances. Empty -> 503. */
  upstreams: RouteUpstream[];
  /**
   * Without `traffic` (a rolling update): new WebSocket upgrades go to the ready upstreams of this
   * revision when it has any (the rollout's target), else to any; plain requests are not affected.
   */
  longLivedTo?: number;
  traffic?: RouteTraffic;
  /**
   * Fault injection (src/gateway/faults.ts): each entry applies to the requests of its revision (all of
   * the route's without one), independently; counted in `RevisionStats.faults`.
   */
  faults?: FaultConfig[];
}

export interface RouteTable {
  /** Monotonic; the gateway ignores tables older than the one it has. */
  version: number;
  services: RouteService[];
}

export interface InflightReport {
  /** instance id -> requests (incl. open WebSocket connections) in flight now. */
  instances: Record<string, number>;
}

/** Responses by status class. */
export interface StatusCounts {
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

/** Copies of requests sent to a canary instance of this revision (`traffic.mirror`). */
export interface MirrorStats {
  /** Mirror requests started. */
  sent: number;
  /**
   * Sampled for mirroring but not sent: body larger than `maxBodyBytes` (or unknown length growing past
   * it), too many mirror requests in flight in the worker, the request ended before its body was read,
   * or the instance went away.
   */
  skipped: number;
  /** Mirror responses by status class. */
  status: StatusCounts;
  /** Mirror requests that got no complete response (connect error, reset, timeout). */
  errors: number;
  /** Time from sending to the end of the (discarded) mirror response; completed ones only. */
  latencyMsSum: number;
  latencyCount: number;
}

/**
 * Upper bounds (seconds, `le`) of the request latency histogram; `RevisionStats.latencyBuckets` has one more
 * entry, for +Inf. Fixed, so that counts from every worker (and every gateway version) add up.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30,
];

/** Method label values of `RevisionStats.methods` (anything else counts as `other`). */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'other'] as const;
export type MethodName = (typeof METHODS)[number];

/**
 * Client requests of one method by outcome: status class of the response sent, `none` when no response
 * head was sent (the client went away first), `other` for a status outside 200-599.
 */
export interface MethodCounts extends StatusCounts {
  none: number;
  other: number;
}

/** Failed attempts to get a response from an instance (each attempt counts, retried ones too). */
export interface UpstreamErrorCounts {
  /** Could not connect (refused, connect timeout, unreachable). */
  connect: number;
  /** The connection died (reset, closed) after the request was sent, or mid-response. */
  reset: number;
  /** No response head within `upstreamTimeoutMs`. */
  timeout: number;
  /** Invalid response head and anything else. */
  other: number;
}

/** gRPC calls of a `protocol: grpc` service, by the `grpc-status` the instance ended them with. */
export interface GrpcStats {
  /** Calls that ended with a `grpc-status` from the instance (in the trailers, or trailers-only). */
  calls: number;
  /**
   * Calls whose `grpc-status` is one of the service's failure codes (`grpcFailureCodes`). Their HTTP status
   * is 200, so they are not in the 5xx class: analysis adds them to the revision's errors.
   */
  failures: number;
  /** By status number ("0" = OK); only codes seen. */
  byCode: Record<string, number>;
  /** Calls the gateway ended itself with UNAVAILABLE because their instance was drained (not failures). */
  drained: number;
}

export interface InstanceStats {
  revision: number;
  /** Requests + WebSocket connections in flight now (a gauge: summed over workers, not kept across restarts). */
  inflight: number;
  /** Times this instance was ejected (each worker ejects on its own). */
  ejections: number;
  /** Ejected now in at least one worker (connect failures or outlierDetection); absent: not ejected. */
  ejected?: boolean;
}

export interface RevisionStats {
  /** Role in the current table (the last one the revision appeared in). */
  role: UpstreamRole;
  /** Version in the table that listed the revision. */
  version: string;
  /** Client requests by method (only methods seen). Their sum is `requests`. */
  methods: Partial<Record<MethodName, MethodCounts>>;
  /** Latency histogram: non-cumulative counts per LATENCY_BUCKETS_SECONDS bucket, then +Inf. Sum = latencyCount. */
  latencyBuckets: number[];
  upstreamErrors: UpstreamErrorCounts;
  /** Client requests finished on an instance of this revision (the last one tried, with retries). */
  requests: number;
  /** Responses sent to clients by status class (gateway-generated ones included). */
  status: StatusCounts;
  /** Gateway-generated 502/503/504 for requests assigned to an instance of this revision. */
  errors: number;
  /** Time from request head received to response end; requests that got a response only. */
  latencyMsSum: number;
  latencyCount: number;
  mirror: MirrorStats;
  /** Requests the gateway faulted on purpose (route `faults`, drills); absent while there were none. */
  faults?: FaultStats;
  /** Requests a limit turned away before they reached an instance; absent while there were none. */
  limited?: LimitedStats;
  /** Only for revisions of `protocol: grpc` services that finished a call. */
  grpc?: GrpcStats;
}

/**
 * `rate`: 429s of `limits.rate` (keyed by `rateKey`); `concurrency`: 503s of `maxInFlightPerInstance`;
 * `connections`: 429s of `maxConnectionsPerClient`.
 */
export interface LimitedStats {
  rate: number;
  concurrency: number;
  connections: number;
  rateKey: string;
}

/** Injected faults: `aborted` requests were answered by the gateway (also in `status`), `delayed` were held. */
export interface FaultStats {
  aborted: number;
  delayed: number;
}

export interface ServiceStats {
  /** Gateway-generated 503s (no ready instance, no ready preview instance): no revision to blame. */
  errors: number;
  /** Requests sent again to an instance after a failed attempt. */
  retries: number;
  /** Instances in the current table or still busy after leaving it. */
  instances: Record<string, InstanceStats>;
  /** By revision number. */
  revisions: Record<string, RevisionStats>;
}

/**
 * HTTP traffic counters (WebSocket upgrades are not counted), monotonic for the life of the gateway master:
 * when a worker exits, the master keeps the counters that worker reported last (at the previous GET /stats)
 * and adds them to every later report. Requests the dead worker counted after that last report are lost, so
 * a frequent scraper loses little. A restart of the whole gateway starts from zero (a counter reset).
 */
export interface StatsReport {
  /** Workers whose counters are included (running now). */
  workers: number;
  /** Exited workers whose last counters are included. */
  exitedWorkers?: number;
  services: Record<string, ServiceStats>;
  /** Client connections by listener (TLS handshakes, HTTP/2 sessions), summed over workers. */
  listeners?: ListenerCounters;
}

/** Client-side connection counters of the gateway's listeners. Counters are monotonic; `h2Sessions` is a gauge. */
export interface ListenerCounters {
  /** TLS handshakes completed on the HTTPS listener. */
  tlsHandshakes: number;
  /** TLS handshakes that failed (bad client hello, no shared cipher, timeout, reset). */
  tlsHandshakeErrors: number;
  /** Plain HTTP sent to the HTTPS listener (answered 400). */
  plainHttpOnTls: number;
  /** HTTP/2 client sessions opened (TLS h2 and h2c). */
  h2SessionsOpened: number;
  /** HTTP/2 client sessions open now. */
  h2Sessions: number;
  /** Load balancer health checks the gateway answered itself (`health.path`), 200 and 503 alike. */
  healthChecks: number;
}

/**
 * Written by the controller as JSON; path passed as `--settings FILE` to `src/gateway/main.ts`. The
 * timeouts and limits are those of `gateway:` in the config (documented there), in the same units.
 */
export interface GatewaySettings
  extends Pick<
    GatewayConfig,
    | 'workers'
    | 'connectTimeoutMs'
    | 'upstreamTimeoutMs'
    | 'upstreamIdleTimeoutMs'
    | 'clientIdleTimeoutMs'
    | 'requestHeadTimeoutMs'
    | 'maxBodyBytes'
    | 'retries'
    | 'ejectAfterFailures'
    | 'ejectForMs'
  > {
  listen: { host: string; port: number };
  adminSocket: string;
  routesFile: string;
  shutdownTimeoutMs: number;
  /** Per-request JSON access log; absent = off. */
  accessLog?: AccessLogSettings;
  /** Max bytes of a request head (request line + fields) -> 431 above. Default 16384. */
  maxHeaderSize?: number;
  /** Max header fields in a request -> 431 above. Default 100. */
  maxHeaders?: number;
  /**
   * IPs / CIDR ranges of proxies in front of the gateway. Only from these peers are the incoming
   * X-Forwarded-For (peer appended), X-Forwarded-Proto and X-Forwarded-Host believed; from any other peer
   * they are replaced by the gateway's own view. Default: none.
   */
  trustedProxies?: string[];
  /**
   * Cold start (`gateway.startupTimeout`): a master started with no routable table holds new connections
   * in the kernel backlog (no worker accepts) until a pushed table gives every service an instance, or
   * for this long at most. Absent or 0: accept at once (a gateway started without a controller).
   */
  startupTimeoutMs?: number;
  /** HTTPS (and HTTP/2 by ALPN) on a second listener; absent = plain HTTP only. */
  tls?: TlsSettings;
  /** HTTP/2 limits, for clients on the TLS listener and h2c clients on the plain one. */
  http2?: Http2Settings;
  /**
   * The load balancer's health endpoint (health.ts) on every public listener; absent: on, at the default
   * path; false: off (the path is routed like any other).
   */
  health?: { path: string } | false;
  /** Client connections one worker holds at most (`gateway.maxConnections` / workers); absent: no limit. */
  maxConnectionsPerWorker?: number;
  /** The name the health check reports as `host`; absent: os.hostname(). */
  hostName?: string;
}

/** A certificate from PEM files (absolute paths), for the hosts listed (exact names or `*.` wildcards). */
export interface StaticCertificate {
  hosts: string[];
  cert: string;
  key: string;
}

export interface TlsSettings {
  listen: { host: string; port: number };
  certificates: StaticCertificate[];
  /** Automatic certificates (RFC 8555, HTTP-01 on the plain listener) for routed hosts not covered above. */
  acme?: { directory: string; email: string; caCert?: string };
  /** Answer plain-HTTP requests with 308 to https (ACME challenges excepted). */
  redirectHttp: boolean;
  /** `Strict-Transport-Security: max-age=N` on HTTPS responses; absent = not sent. */
  hstsSeconds?: number;
  /** A TLS handshake not done within this is dropped (slow or stuck clients). */
  handshakeTimeoutMs: number;
  /** Where ACME keeps its account key and the certificates it obtained (mode 0600). */
  certDir: string;
}

export interface Http2Settings {
  /** Concurrent streams a client may open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** The plain listener also takes HTTP/2 with prior knowledge (h2c: gRPC clients without TLS). */
  cleartext: boolean;
}

/**
 * A certificate as the master hands it to its workers: the PEM text itself (workers read no files), the
 * hosts it serves, and where it came from.
 */
export interface CertificateMaterial {
  hosts: string[];
  certPem: string;
  keyPem: string;
  source: 'static' | 'acme' | 'default';
  /** The OCSP response to staple (base64 DER): only a good, current one for this certificate. */
  ocsp?: string;
}

/**
 * One JSON line per sampled request, written by each worker to `file` (appended, O_APPEND, whole lines),
 * asynchronously: when the file cannot keep up, lines are dropped rather than delaying requests.
 */
export interface AccessLogSettings {
  enabled: boolean;
  /** Share of requests logged, 0..1 (default 1). */
  sample?: number;
  /** Default: `logs/access.log` beside the admin socket (the data dir). */
  file?: string;
}
