/**
 * The key sets, enumerations and name patterns of the config concepts. A leaf module (no imports but
 * types) so the gateway's route-table validation (src/gateway/validate.ts) checks the same names as the
 * config validators without importing them.
 */
import type { LoadBalancer } from './types.ts';

export const TOP_LEVEL_KEYS = [
  'gateway',
  'control',
  'services',
  'notifications',
  'cluster',
  'allowFaults',
] as const;
export const GATEWAY_KEYS = [
  'listen',
  'workers',
  'connectTimeout',
  'upstreamTimeout',
  'upstreamIdleTimeout',
  'clientIdleTimeout',
  'requestHeadTimeout',
  'maxBodySize',
  'maxHeaderSize',
  'maxHeaders',
  'trustedProxies',
  'accessLog',
  'retries',
  'ejectAfterFailures',
  'ejectFor',
  'startupTimeout',
  'tls',
  'http2',
  'health',
  'maxConnections',
] as const;
/** `gateway.health`: the load balancer's health endpoint. */
export const HEALTH_KEYS = ['path'] as const;
/** `gateway.tls`: the HTTPS listener, its certificates and ACME. */
export const GATEWAY_TLS_KEYS = [
  'listen',
  'certificates',
  'acme',
  'redirectHttp',
  'hsts',
  'handshakeTimeout',
] as const;
export const CERTIFICATE_KEYS = ['hosts', 'cert', 'key', 'default'] as const;
export const ACME_KEYS = ['directory', 'email', 'caCert'] as const;
export const HTTP2_KEYS = ['maxConcurrentStreams', 'cleartext'] as const;
export const UPSTREAM_PROTOCOLS = ['http', 'h2c', 'grpc'] as const;
export const GRPC_KEYS = ['failureCodes'] as const;
/** gRPC status codes by name (the numbers are the wire values). */
export const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};
export const ACCESS_LOG_KEYS = ['enabled', 'sample', 'file'] as const;
export const CONTROL_KEYS = ['listen', 'dataDir', 'tls', 'dashboard'] as const;
export const TLS_KEYS = ['cert', 'key'] as const;
export const SERVICE_KEYS = [
  'route',
  'version',
  'replicas',
  'loadBalancer',
  'run',
  'readiness',
  'liveness',
  'drainTimeout',
  'stopTimeout',
  'logMaxSize',
  'restartBackoff',
  'restartBackoffMax',
  'strategy',
  'traffic',
  'analysis',
  'hooks',
  'revisionHistoryLimit',
  'protocol',
  'grpc',
  'hosts',
  'limits',
  'outlierDetection',
  'timeouts',
  'retries',
] as const;
/** `cluster`: fleet mode, several hosts coordinated through etcd. */
export const CLUSTER_KEYS = ['etcd', 'host', 'advertise', 'prefix', 'leaseTtl', 'onHostLost'] as const;
export const ETCD_KEYS = ['endpoints', 'username', 'password', 'passwordFile', 'tls', 'dialTimeout'] as const;
export const ETCD_TLS_KEYS = ['ca', 'cert', 'key'] as const;
/** `cluster.onHostLost`: what a rollout does when a host of its service is lost. */
export const ON_HOST_LOST = ['pause', 'continue'] as const;
/** A fleet host's name (`cluster.host`, `services.<name>.hosts`). */
export const FLEET_HOST_RE = /^[a-z0-9][a-z0-9.-]{0,62}$/;

export const ROUTE_KEYS = ['host', 'pathPrefix', 'faults'] as const;
export const RUN_KEYS = ['command', 'cwd', 'env'] as const;
export const PROBE_KEYS = [
  'path',
  'interval',
  'timeout',
  'successThreshold',
  'failureThreshold',
  'initialDelay',
] as const;
export const LOAD_BALANCERS: readonly LoadBalancer[] = [
  'roundRobin',
  'leastInFlight',
  'random',
  'p2c',
  'hash',
];
/** `services.<name>.loadBalancer` as a mapping, and the traffic policy keys beside it. */
export const LOAD_BALANCER_KEYS = ['type', 'key'] as const;
export const LIMITS_KEYS = [
  'rate',
  'maxInFlightPerInstance',
  'queueTimeout',
  'maxConnectionsPerClient',
] as const;
export const RATE_KEYS = ['requests', 'per', 'burst', 'key'] as const;
export const OUTLIER_KEYS = ['consecutive5xx', 'errorRate', 'ejectFor', 'maxEjectedPercent'] as const;
export const ERROR_RATE_KEYS = ['above', 'minRequests', 'window'] as const;
export const TIMEOUTS_KEYS = ['request'] as const;
export const RETRIES_KEYS = ['attempts', 'budget'] as const;
/** The route table's `policy` (what traffic-policy.ts validates, in ms). */
export const POLICY_KEYS = [
  'hashKey',
  'rate',
  'maxInFlightPerInstance',
  'queueTimeoutMs',
  'maxConnectionsPerClient',
  'outlierDetection',
  'requestTimeoutMs',
  'retries',
] as const;

/** `services.<name>.traffic` (the route table's traffic adds the weight, preview and mirror). */
export const TRAFFIC_KEYS = ['stickyBy', 'rules'] as const;
export const RULE_KEYS = ['match', 'to'] as const;
/** Rule conditions that name a header, cookie or query parameter and match its value. */
export const NAMED_MATCH_KINDS = ['header', 'cookie', 'query'] as const;
export const MATCH_KEYS = [...NAMED_MATCH_KINDS, 'userIn', 'userAgent'] as const;
export const STRING_MATCH_KINDS = ['exact', 'prefix', 'regex'] as const;
export const STICKY_SOURCES = ['header', 'cookie', 'query'] as const;
export const RULE_TARGETS = ['stable', 'canary'] as const;
/** A canary `mirror` step (the route table's mirror adds maxBodyBytes). */
export const MIRROR_KEYS = ['percent', 'methods', 'pathPrefix'] as const;

export const SERVICE_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const VERSION_RE = /^[A-Za-z0-9._-]+$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const HOSTNAME_RE =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** RFC 9110 token: header and cookie names, methods. */
export const HTTP_TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
