/**
 * The validated, fully-defaulted configuration. `src/config/load.ts` turns a YAML file into
 * this shape (or a list of `ConfigIssue`s); everything else consumes only this shape.
 * Durations are milliseconds, paths are absolute.
 */

export interface HostPort {
  host: string;
  port: number;
}

/** An integer, or a percentage string such as "25%". */
export type IntOrPercent = number | string;

export interface CutoverConfig {
  /** Absolute path of the file this came from (undefined when parsed from a string). */
  file?: string;
  gateway: GatewayConfig;
  control: ControlConfig;
  /** In file order. */
  services: Record<string, ServiceConfig>;
  /** Webhooks for rollout events of every service. */
  notifications?: NotificationConfig[];
  /** Fleet mode: several hosts run the same file, coordinated through etcd. Absent: single host. */
  cluster?: ClusterConfig;
  /** `allowFaults: true`: routes may carry `faults` (refused otherwise). Set only when written. */
  allowFaults?: boolean;
}

/** The fault a drill injects into its canary's responses. */
export type DrillFault =
  | { kind: 'errors'; percent: number; status: number }
  | { kind: 'latency'; ms: number; percent: number };

/**
 * Fault injection on a route (chaos testing, rollback drills), like Istio's: a share of the requests
 * is answered with an error, or held before it goes on. Percentages 0..100.
 */
export interface FaultConfig {
  /** Only requests served by this revision; absent: every request of the route. */
  revision?: number;
  /** Answer this share of requests with `status` without sending them to the instance. */
  abort?: { status: number; percent: number };
  /** Hold this share of requests `ms` before sending them on. */
  delay?: { ms: number; percent: number };
}

/** `cluster:`: this host's place in a fleet and how it reaches etcd. Durations in ms, paths absolute. */
export interface ClusterConfig {
  etcd: {
    /** `http(s)://host:port`, in file order. */
    endpoints: string[];
    username?: string;
    /** From `password`, or read from `passwordFile` when the config is loaded. */
    password?: string;
    /** Only with https endpoints; without `ca` the system CAs are trusted. */
    tls?: { ca?: string; cert?: string; key?: string };
    dialTimeoutMs: number;
  };
  /** This host's name (`CUTOVER_HOST` overrides; default: the machine's host name). */
  host: string;
  /** Where other hosts reach this host's control API (`CUTOVER_ADVERTISE` overrides; default: control.listen's host). */
  advertise: string;
  /** etcd key prefix; starts and ends with `/`. */
  prefix: string;
  /** Leader and host-heartbeat lease TTL (whole seconds). */
  leaseTtlMs: number;
  /** What a rollout does when a host of its service is lost. */
  onHostLost: 'pause' | 'continue';
}

export interface GatewayConfig {
  listen: HostPort;
  /** Gateway worker processes; default: available cores. */
  workers: number;
  /** Upstream TCP connect timeout (-> 502 after retries). */
  connectTimeoutMs: number;
  /** Max wait for an upstream's response headers (-> 504). */
  upstreamTimeoutMs: number;
  /** Idle upstream keep-alive connections are closed after this (keep it below the services' own idle timeout). */
  upstreamIdleTimeoutMs: number;
  /** Client-side keep-alive idle timeout. */
  clientIdleTimeoutMs: number;
  /** Max time to receive a full request head from a client (slowloris). */
  requestHeadTimeoutMs: number;
  /** Max request body size in bytes (413 above). */
  maxBodyBytes: number;
  /** Max size of a request head in bytes (431 above). */
  maxHeaderBytes: number;
  /** Max header fields per request (431 above). */
  maxHeaders: number;
  /** IPs / CIDR ranges whose X-Forwarded-For/-Proto/-Host are believed; others' are replaced. */
  trustedProxies: string[];
  /** Attempts on other instances for requests that provably never reached an upstream. */
  retries: number;
  /** Passive ejection after this many consecutive connect failures. */
  ejectAfterFailures: number;
  ejectForMs: number;
  /** Cold start: connections wait in the kernel backlog until every service has a ready instance, this long at most. */
  startupTimeoutMs: number;
  /** Sampled JSON access log (request id, traceparent); absent = off. `file` default: dataDir/logs/access.log. */
  accessLog?: { enabled: boolean; sample: number; file?: string };
  /** HTTPS with HTTP/2 on a second listener; absent = plain HTTP only. */
  tls?: GatewayTlsConfig;
  /** Client connections the whole gateway holds at most (each worker its share); absent: no limit. */
  maxConnections?: number;
  /** HTTP/2 limits; `cleartext`: the plain listener also takes h2c (prior knowledge). */
  http2: { maxConcurrentStreams: number; cleartext: boolean };
  /** The load balancer's health endpoint on every public listener; false = off. */
  health: GatewayHealthConfig | false;
}

export interface GatewayHealthConfig {
  /** Exact path (query ignored) a GET/HEAD of which the gateway answers itself, for any Host. */
  path: string;
}

export interface GatewayTlsConfig {
  listen: HostPort;
  /** PEM files (absolute paths); `default` marks the one for handshakes no other certificate matches. */
  certificates: { hosts: string[]; cert: string; key: string; default: boolean }[];
  acme?: { directory: string; email: string; caCert?: string };
  redirectHttp: boolean;
  hstsSeconds?: number;
  handshakeTimeoutMs: number;
}

export interface ControlConfig {
  listen: HostPort;
  /** Absolute. State database, instance logs, gateway socket. */
  dataDir: string;
  /** Serve the control API over HTTPS with these PEM files (absolute paths). */
  tls?: { cert: string; key: string };
  /** Serve the web dashboard at `/` of the control listener. */
  dashboard: boolean;
}

export interface ProbeConfig {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
  initialDelayMs: number;
}

export interface RunSpec {
  /** Shell command; `${PORT}`, `${VERSION}`, `${INSTANCE}`, `${SERVICE}`, `${REVISION}` are substituted. */
  command: string;
  /** Absolute working directory. */
  cwd: string;
  env: Record<string, string>;
}

export interface RollingStrategy {
  type: 'rolling';
  maxSurge: IntOrPercent;
  maxUnavailable: IntOrPercent;
  minReadySeconds: number;
  progressDeadlineMs: number;
  /** Fleet mode: hosts whose instances are replaced at the same time (an integer >= 1 or "N%" of the service's hosts). */
  hostsAtOnce: IntOrPercent;
}

/** Blue-green: a full preview side next to the active side; `promote` switches all traffic at once. */
export interface BlueGreenStrategy {
  type: 'blueGreen';
  /** Instances of the preview side (default: replicas). */
  previewReplicas: number;
  /** Switch as soon as the preview is ready (plus autoPromoteAfterMs). */
  autoPromote: boolean;
  autoPromoteAfterMs: number;
  /** The old side stays warm (not routed) this long after the switch: abort/undo switch back instantly. */
  scaleDownDelayMs: number;
  /** Requests carrying this header/value reach the preview before the switch. */
  preview?: { header: string; value: string };
  progressDeadlineMs: number;
}

/** One canary step. Exactly one key is set. */
export type CanaryStep =
  | { setWeight: number }
  /** durationMs undefined: wait for `cutover promote`. */
  | { pause: { durationMs?: number } }
  /** Copy `percent` of matching requests to the canary; responses are discarded. */
  | { mirror: { percent: number; methods?: string[]; pathPrefix?: string } }
  /** Run the service's `analysis` for this long at the current weight; Fail aborts, Inconclusive pauses. */
  | { analysis: { durationMs: number } };

export interface CanaryStrategy {
  type: 'canary';
  /** Canary instances during the steps: an integer or a percentage of replicas (rounded up, at least 1). */
  canaryReplicas: IntOrPercent;
  steps: CanaryStep[];
  progressDeadlineMs: number;
  /** Largest request body copied to a mirror; larger bodies are not mirrored. */
  mirrorMaxBodyBytes: number;
}

export type StrategyConfig = RollingStrategy | BlueGreenStrategy | CanaryStrategy;

/** How a header, cookie or query value is compared. */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

/** All present conditions must hold. */
export interface RuleMatch {
  header?: Record<string, StringMatch>;
  cookie?: Record<string, StringMatch>;
  query?: Record<string, StringMatch>;
  /** Allowlist of sticky keys (requires traffic.stickyBy). */
  userIn?: string[];
  /** Regex on User-Agent (device class); `(?i)` prefix = case-insensitive. */
  userAgent?: string;
}

export interface TrafficRule {
  match: RuleMatch;
  to: 'stable' | 'canary';
}

/** Request-level routing between stable and canary. */
export interface TrafficConfig {
  /** Where the sticky user key comes from; absent: weighted random per request. */
  stickyBy?: { source: 'header' | 'cookie' | 'query'; name: string };
  rules: TrafficRule[];
}

/** `p2c`: power of two choices on in-flight; `hash`: consistent hashing with bounded load on `policy.hashKey`. */
export type LoadBalancer = 'roundRobin' | 'leastInFlight' | 'random' | 'p2c' | 'hash';

/** Where a per-request key comes from: a named header/cookie/query value, the client address, or the route. */
export type RequestKey =
  | { source: 'header' | 'cookie' | 'query'; name: string }
  | { source: 'ip' }
  | { source: 'route' };

/**
 * A service's traffic policy at the gateway (src/config/traffic-policy.ts). Every field is optional: an
 * empty policy is what the gateway did before. Durations in ms. The route table carries it as is.
 */
export interface TrafficPolicy {
  /** `loadBalancer.key` (only with type hash). */
  hashKey?: RequestKey;
  /** Token bucket per key over the whole gateway: refill `requests` per `perMs`, capacity `burst`. */
  rate?: { requests: number; perMs: number; burst: number; key: RequestKey };
  maxInFlightPerInstance?: number;
  /** With maxInFlightPerInstance: how long a request may wait for a free slot (then 503). */
  queueTimeoutMs?: number;
  maxConnectionsPerClient?: number;
  outlierDetection?: OutlierDetection;
  /** Overrides gateway.upstreamTimeout for this service. */
  requestTimeoutMs?: number;
  retries?: { attempts: number; budgetPercent: number };
}

export interface OutlierDetection {
  consecutive5xx?: number;
  errorRate?: { above: number; minRequests: number; windowMs: number };
  ejectForMs: number;
  maxEjectedPercent: number;
}

export interface ServiceConfig {
  name: string;
  route: { host: string; pathPrefix: string; faults?: FaultConfig };
  version: string;
  replicas: number;
  run: RunSpec;
  readiness: ProbeConfig;
  liveness?: ProbeConfig;
  drainTimeoutMs: number;
  stopTimeoutMs: number;
  strategy: StrategyConfig;
  traffic: TrafficConfig;
  /** Judges the canary (whole rollout, and `analysis` steps) or the preview / new active side (blue-green). */
  analysis?: AnalysisConfig;
  hooks?: HooksConfig;
  revisionHistoryLimit: number;
  loadBalancer: LoadBalancer;
  /** Limits, hash key, outlier detection, timeouts and retries (absent: none). */
  policy?: TrafficPolicy;
  /** Per-instance log file cap; the file is rotated once (`.1`) when it grows past this. */
  logMaxBytes: number;
  /** Crash restart backoff: initial delay, doubled per consecutive crash, capped. */
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  /** How the gateway speaks to the instances (`http` = HTTP/1.1; `h2c`, `grpc` = HTTP/2 cleartext). */
  protocol: 'http' | 'h2c' | 'grpc';
  /** `protocol: grpc` only: the grpc-status codes that count as failed requests. */
  grpcFailureCodes?: number[];
  /** Fleet mode: the hosts (cluster.host names) that run this service; 'all' (the default) is every host. */
  hosts: string[] | 'all';
}

/**
 * A hook: a shell command (exit 0 = success; env SERVICE, REVISION, VERSION, TARGET_URL) or an
 * HTTP check (GET by default; success = `expectStatus`, default any 2xx). `${TARGET_URL}` /
 * TARGET_URL is `http://127.0.0.1:PORT` of a ready instance of the new revision.
 */
export interface HookConfig {
  command?: string;
  http?: { url: string; method: string; expectStatus?: number };
  timeoutMs: number;
}

/** A failing (or timed-out) hook aborts the rollout; its output is recorded in the events. */
export interface HooksConfig {
  /** Before any instance of the new revision starts (e.g. a database migration). */
  preRollout?: HookConfig;
  /** Before traffic is promoted: blue-green switch, canary final promotion (smoke test). */
  prePromotion?: HookConfig;
  /** After the new revision became stable (a failure here is recorded, nothing to abort). */
  postPromotion?: HookConfig;
}

/** Rollout events a webhook receives. */
export type NotificationEvent =
  | 'certificate-failed'
  | 'rollout-started'
  | 'step-completed'
  | 'paused'
  | 'promoted'
  | 'aborted'
  | 'rolled-back'
  | 'analysis-failed'
  | 'analysis-alert'
  | 'succeeded';

/** A webhook: JSON POST of every selected event, retried with backoff. */
export interface NotificationConfig {
  url: string;
  /** `json` (Cutover's event document) or `slack` (an incoming-webhook `{text, blocks}` payload). */
  format: 'json' | 'slack';
  /** Default: all events. */
  events?: NotificationEvent[];
  timeoutMs: number;
  retries: number;
}

/** One problem found in a config file or API body. */
export interface ConfigIssue {
  /** Dotted path, e.g. `services.web.strategy.maxSurge`. */
  path: string;
  message: string;
  /** 1-based line in the file, when known. */
  line?: number;
}

/**
 * `analysis`: automated judgement of a canary (or preview) revision. Durations in ms. See docs/analysis.md
 * and src/config/analysis.ts (the parser of this shape).
 */
export interface AnalysisConfig {
  /** Time between measurements. */
  intervalMs: number;
  /** Nothing is measured (and the traffic window does not start) before this. */
  initialDelayMs: number;
  /** Failed provider measurements tolerated (a sequential gateway metric's Fail is final). */
  failureLimit: number;
  /** Measurement errors in a row tolerated; one more -> phase Error. */
  consecutiveErrorLimit: number;
  /** Inconclusive measurements tolerated; one more -> phase Inconclusive (pause for a human). */
  inconclusiveLimit: number;
  /** No verdict from the gateway metrics on fewer canary requests than this. */
  minRequests: number;
  /** False-Fail probability of the whole analysis (split over the gateway metrics). Default 0.01. */
  alpha: number;
  /**
   * Rolling only: everyBatch (the default) holds each batch until the instances already moved pass;
   * background judges the whole rollout without holding it. Set only when written in the config.
   */
  gate?: 'everyBatch' | 'background';
  metrics: AnalysisMetricConfig[];
}

/** What a Failed verdict of a metric does: abort the rollout (default), or alert and go on. */
export type MetricOnFail = 'abort' | 'alert';

/** What every analysis metric has, whatever it measures. */
export interface MetricCommon {
  name: string;
  /** Set only when written in the config; absent means abort. */
  onFail?: MetricOnFail;
}

/** Canary 5xx (gateway-generated ones included) / requests, against a fixed limit. */
export interface ErrorRateMetric extends MetricCommon {
  type: 'errorRate';
  max: number;
}

/** Canary error rate against stable's over the same window: fail when above stable + `by`. */
export interface ErrorRateVsStableMetric extends MetricCommon {
  type: 'errorRateVsStable';
  /** Tolerated absolute increase (0..0.1). */
  by: number;
  /** Also required: canary error odds above `ratio` x stable's (default 2); a shared outage never blames the canary. */
  ratio: number;
}

/** Canary latency percentile against a fixed limit. */
export interface LatencyMetric extends MetricCommon {
  type: 'latency';
  /** 50..99.99 */
  percentile: number;
  maxMs: number;
}

/** Canary latency percentile against stable's (same window) plus `byMs`. */
export interface LatencyVsStableMetric extends MetricCommon {
  type: 'latencyVsStable';
  percentile: number;
  byMs: number;
}

/** A bound on a number (or equality with a JSON value, web only). At least one is set. */
export interface ValueCondition {
  max?: number;
  min?: number;
  equals?: string | number | boolean | null;
}

export interface PrometheusMetric extends ValueCondition, MetricCommon {
  type: 'prometheus';
  /** http(s)://host:port of the Prometheus server (no trailing slash). */
  address: string;
  /** Instant query; `{{revision}}`, `{{version}}`, `{{service}}`, `{{role}}` are substituted. Must yield one value. */
  query: string;
  timeoutMs: number;
}

export interface WebMetric extends ValueCondition, MetricCommon {
  type: 'web';
  /** `{{...}}` variables are substituted (URL-encoded). */
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** `$`, `$.a.b`, `$.a[0]`, `$['a-b']`. */
  jsonPath: string;
  timeoutMs: number;
}

export type AnalysisMetricConfig =
  | ErrorRateMetric
  | ErrorRateVsStableMetric
  | LatencyMetric
  | LatencyVsStableMetric
  | PrometheusMetric
  | WebMetric;
