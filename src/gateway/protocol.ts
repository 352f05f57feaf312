/**
 * The contract between the controller and the gateway master process.
 *
 * The gateway master serves a small HTTP admin API on a Unix socket (`GatewaySettings.adminSocket`):
 *   PUT  /routes    body RouteTable -> 200 {"version":N} once EVERY worker has applied it
 *   GET  /routes    -> RouteTable (the last applied one)
 *   GET  /inflight  -> InflightReport (summed over workers, includes instances already removed
 *                      from the table whose requests are still running)
 *   GET  /healthz   -> 200 {"ok":true,"workers":N}
 * SIGTERM: stop accepting, finish in-flight (up to `shutdownTimeoutMs`), exit 0.
 *
 * The gateway keeps serving its last table when the controller goes away; it persists the table
 * to `routesFile` so a restarted worker (or gateway) starts with it.
 */

export interface RouteUpstream {
  /** Instance id, e.g. `web-3-a1b2`. Stable for the life of the instance. */
  instance: string;
  revision: number;
  version: string;
  /** `host:port` of the instance. */
  address: string;
}

export interface RouteService {
  name: string;
  /** `*` matches any Host; otherwise exact host (port ignored), case-insensitive. */
  host: string;
  /** Longest matching prefix wins; `/api` matches `/api` and `/api/x`, not `/apix`. */
  pathPrefix: string;
  balance: 'roundRobin' | 'leastInFlight';
  /** Ready, routable instances. Empty -> 503. */
  upstreams: RouteUpstream[];
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

/** Written by the controller as JSON; path passed as `--settings FILE` to `src/gateway/main.ts`. */
export interface GatewaySettings {
  listen: { host: string; port: number };
  workers: number;
  adminSocket: string;
  routesFile: string;
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamIdleTimeoutMs: number;
  clientIdleTimeoutMs: number;
  requestHeadTimeoutMs: number;
  maxBodyBytes: number;
  retries: number;
  ejectAfterFailures: number;
  ejectForMs: number;
  shutdownTimeoutMs: number;
}
