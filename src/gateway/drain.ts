/** Graceful shutdown of one worker's HTTP server. */
import type { Logger } from '../log/logger.ts';
import type { AccessLog } from './accesslog.ts';
import type { Routing } from './table.ts';

/** The parts of an http.Server a drain uses. */
export interface DrainableServer {
  close(callback: () => void): unknown;
  closeAllConnections(): void;
  closeIdleConnections(): void;
  /** False while connections that close themselves (HTTP/2 sessions after GOAWAY) are still open. */
  idle?(): boolean;
}

/** How often a draining server closes connections that became idle. */
const IDLE_SWEEP_MS = 20;

/**
 * Stop accepting, close idle keep-alive connections, let in-flight requests finish (the caller has set
 * `draining`, so responses carry `Connection: close`), close WebSockets with 1001; resolves when everything
 * is closed or after timeoutMs, once queued access log lines are written.
 */
export function drain(
  server: DrainableServer,
  routing: Routing,
  accessLog: AccessLog | null,
  logger: Logger,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(sweep);
      clearTimeout(deadline);
      server.closeAllConnections();
      for (const up of routing.upstreams()) {
        up.pool.destroy().catch(noop);
        for (const relay of up.relays) relay.destroy();
      }
      // Queued access log lines are written before the worker reports it is done.
      if (accessLog === null) resolve();
      else accessLog.close().then(resolve, resolve);
    };
    let serverClosed = false;
    // Connections whose last response finished become idle: close them until the server has none left
    // and every exchange (WebSocket relays included) has released its instance.
    const sweep = setInterval(() => {
      server.closeIdleConnections();
      if (serverClosed && routing.totalInflight() === 0 && (server.idle?.() ?? true)) finish();
    }, IDLE_SWEEP_MS);
    const deadline = setTimeout(() => {
      if (!done)
        logger.warn('shutdown timeout: cutting remaining requests', { inflight: routing.totalInflight() });
      finish();
    }, timeoutMs);
    server.close(() => {
      serverClosed = true;
      if (routing.totalInflight() === 0 && (server.idle?.() ?? true)) finish();
    });
    server.closeIdleConnections();
    for (const relay of routing.relays()) relay.closeGoingAway('gateway shutting down');
  });
}

function noop(): void {}
