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
  /** Attempts on other instances for requests that provably never reached an upstream. */
  retries: number;
  /** Passive ejection after this many consecutive connect failures. */
  ejectAfterFailures: number;
  ejectForMs: number;
}

export interface ControlConfig {
  listen: HostPort;
  /** Absolute. State database, instance logs, gateway socket. */
  dataDir: string;
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
}

export type StrategyConfig = RollingStrategy;

export type LoadBalancer = 'roundRobin' | 'leastInFlight';

export interface ServiceConfig {
  name: string;
  route: { host: string; pathPrefix: string };
  version: string;
  replicas: number;
  run: RunSpec;
  readiness: ProbeConfig;
  liveness?: ProbeConfig;
  drainTimeoutMs: number;
  stopTimeoutMs: number;
  strategy: StrategyConfig;
  revisionHistoryLimit: number;
  loadBalancer: LoadBalancer;
  /** Per-instance log file cap; the file is rotated once (`.1`) when it grows past this. */
  logMaxBytes: number;
  /** Crash restart backoff: initial delay, doubled per consecutive crash, capped. */
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
}

/** One problem found in a config file or API body. */
export interface ConfigIssue {
  /** Dotted path, e.g. `services.web.strategy.maxSurge`. */
  path: string;
  message: string;
  /** 1-based line in the file, when known. */
  line?: number;
}
