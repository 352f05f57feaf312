/**
 * Default values for every optional config key, in file units (durations/sizes as written in
 * YAML) so that docs/config.md and error messages read the same. `load.ts` parses them.
 */
import { nodeOs } from '../util/builtins.ts';

export const DEFAULT_GATEWAY_LISTEN = '127.0.0.1:8080';
/** Host used when `listen` is a bare port number. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
/** One gateway worker per available core (computed once, at import). */
export const DEFAULT_GATEWAY_WORKERS: number = nodeOs.availableParallelism();
export const DEFAULT_CONNECT_TIMEOUT = '2s';
export const DEFAULT_UPSTREAM_TIMEOUT = '60s';
export const DEFAULT_UPSTREAM_IDLE_TIMEOUT = '4s';
export const DEFAULT_CLIENT_IDLE_TIMEOUT = '5s';
export const DEFAULT_REQUEST_HEAD_TIMEOUT = '10s';
export const DEFAULT_MAX_BODY_SIZE = '10MB';
export const DEFAULT_MAX_HEADER_SIZE = '16KB';
export const DEFAULT_MAX_HEADERS = 100;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_EJECT_AFTER_FAILURES = 3;
export const DEFAULT_EJECT_FOR = '5s';
/** How long a cold-started gateway holds connections waiting for the first ready instances. */
export const DEFAULT_STARTUP_TIMEOUT = '30s';
/** `gateway.health.path`: the load balancer's health check, answered by the gateway itself. */
export const DEFAULT_HEALTH_PATH = '/_cutover/health';

export const DEFAULT_CONTROL_LISTEN = '127.0.0.1:8081';
export const DEFAULT_DATA_DIR = './.cutover';

export const DEFAULT_ROUTE_HOST = '*';
export const DEFAULT_ROUTE_PATH_PREFIX = '/';
export const DEFAULT_REPLICAS = 1;
export const DEFAULT_LOAD_BALANCER = 'roundRobin';
export const DEFAULT_OUTLIER_EJECT_FOR = '10s';
export const DEFAULT_MAX_EJECTED_PERCENT = 50;
export const DEFAULT_ERROR_RATE_WINDOW = '10s';
export const DEFAULT_ERROR_RATE_MIN_REQUESTS = 20;
export const DEFAULT_RETRY_BUDGET = '20%';
export const DEFAULT_RUN_CWD = '.';

export const DEFAULT_READINESS = {
  path: '/ready',
  interval: '1s',
  timeout: '1s',
  successThreshold: 1,
  failureThreshold: 3,
  initialDelay: '0s',
} as const;

export const DEFAULT_LIVENESS = {
  path: '/health',
  interval: '5s',
  timeout: '2s',
  successThreshold: 1,
  failureThreshold: 3,
  initialDelay: '0s',
} as const;

export const DEFAULT_DRAIN_TIMEOUT = '30s';
export const DEFAULT_STOP_TIMEOUT = '10s';
export const DEFAULT_LOG_MAX_SIZE = '10MB';
export const DEFAULT_RESTART_BACKOFF = '500ms';
export const DEFAULT_RESTART_BACKOFF_MAX = '30s';

export const DEFAULT_STRATEGY_TYPE = 'rolling';
export const DEFAULT_MAX_SURGE = '25%';
export const DEFAULT_MAX_UNAVAILABLE = '25%';
export const DEFAULT_MIN_READY_SECONDS = 0;
export const DEFAULT_PROGRESS_DEADLINE = '60s';
export const DEFAULT_REVISION_HISTORY_LIMIT = 10;

// blueGreen (previewReplicas defaults to the service's replicas)
export const DEFAULT_AUTO_PROMOTE = false;
export const DEFAULT_AUTO_PROMOTE_AFTER = '0s';
export const DEFAULT_SCALE_DOWN_DELAY = '30s';

// canary
export const DEFAULT_CANARY_REPLICAS = 1;
export const DEFAULT_MIRROR_MAX_BODY_SIZE = '64KB';

// hooks (services.<name>.hooks.<hook>)
export const DEFAULT_HOOK_TIMEOUT = '60s';
export const DEFAULT_HOOK_METHOD = 'GET';

// notifications (top level; events default to all of them)
export const DEFAULT_NOTIFICATION_FORMAT = 'json';
export const DEFAULT_NOTIFICATION_TIMEOUT = '5s';
export const DEFAULT_NOTIFICATION_RETRIES = 3;

/** `gateway.tls`: a TLS handshake must be done within this (slow or stuck clients are dropped). */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT = '10s';
/** `gateway.tls.listen` when `tls` is given without it. */
export const DEFAULT_TLS_LISTEN = '0.0.0.0:443';
/** `gateway.http2.maxConcurrentStreams`: what nginx and Go's net/http default to (128 / 250): a bound. */
export const DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS = 128;
/** `services.<name>.grpc.failureCodes`: statuses that mean the server failed, not the caller. */
export const DEFAULT_GRPC_FAILURE_CODES = [
  'UNKNOWN',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
];

// cluster (fleet mode; absent = single host)
/** `cluster.etcd.dialTimeout`: a connection attempt to one etcd endpoint. */
export const DEFAULT_ETCD_DIAL_TIMEOUT = '2s';
export const DEFAULT_CLUSTER_PREFIX = '/cutover/';
/** `cluster.leaseTtl`: a lost leader or host is noticed within this; short enough to act, long enough for GC pauses. */
export const DEFAULT_LEASE_TTL = '5s';
export const MIN_LEASE_TTL_SECONDS = 2;
export const MAX_LEASE_TTL_SECONDS = 60;
export const DEFAULT_ON_HOST_LOST = 'pause';
/** `services.<name>.hosts`: every host of the fleet. */
export const DEFAULT_SERVICE_HOSTS = 'all';
/** `strategy.hostsAtOnce` (rolling): hosts whose instances are replaced at the same time. */
export const DEFAULT_HOSTS_AT_ONCE = 1;
