/**
 * The last stage of the per-request path: the chosen instance gets the request, through the
 * service's limits (connections per client, rate, concurrency) and fault injection when the route
 * table gives it those. Without them nothing is allocated here; with them, only a request that has
 * to wait (its connection's first request, a request without a token at hand, a queued one).
 */
import type { GatewayH2Request, GatewayRequest } from './client-messages.ts';
import type { Exchange } from './exchange.ts';
import { whenBodyStarts } from './limits.ts';
import type { Routing } from './table.ts';
import type { RoutedService, Upstream } from './upstream.ts';

export function sendTo(routing: Routing, ex: Exchange, service: RoutedService, up: Upstream): void {
  const conns = service.connections;
  if (conns !== null) {
    const conn = ex.h2 ? (ex.req as GatewayH2Request).stream.session! : (ex.req as GatewayRequest).socket;
    const peer = ex.req.socket.remoteAddress;
    if (!conns.holds(conn, peer)) {
      conns.wait(conn, peer!, ex, up.stats, () => {
        const r = stillRouted(routing, ex, service, up);
        if (r !== null) rateStage(routing, ex, r.service, r.up);
      });
      return;
    }
  }
  rateStage(routing, ex, service, up);
}

function rateStage(routing: Routing, ex: Exchange, service: RoutedService, up: Upstream): void {
  const rate = service.rate;
  if (rate !== null) {
    const req = ex.req;
    const key = rate.keyOf(req.headers, ex.opts!.path, req.socket.remoteAddress);
    const now = Date.now();
    if (!rate.take(key, now)) {
      rate.wait(
        key,
        ex,
        up.stats,
        () => {
          const r = stillRouted(routing, ex, service, up);
          if (r !== null) admitted(routing, ex, r.service, r.up);
        },
        now,
      );
      return;
    }
  }
  admitted(routing, ex, service, up);
}

/**
 * After a wait for a limit (a connection slot, rate tokens) the table may have changed: the chosen
 * instance, or another of the same role in the current table, or null (answered 503).
 */
function stillRouted(
  routing: Routing,
  ex: Exchange,
  service: RoutedService,
  up: Upstream,
): { service: RoutedService; up: Upstream } | null {
  if (!up.retired) return { service, up };
  const now = routing.current(service);
  const other = now.pickFor(ex.role, null);
  ex.service = now;
  if (other === null) {
    ex.sendError(503, now.noInstanceBody, false);
    return null;
  }
  return { service: now, up: other };
}

/** Through the concurrency limit and fault injection, when the service has them. */
function admitted(routing: Routing, ex: Exchange, service: RoutedService, up: Upstream): void {
  const limit = routing.limitOf(service);
  if (limit === null && service.faults === null) {
    ex.assign(up);
    dispatch(ex);
    return;
  }
  const go = () => {
    if (!service.faults?.inject(ex, ex.upstream!.stats, () => dispatch(ex))) dispatch(ex);
  };
  if (limit !== null) limit.start(ex, service, up, go);
  else {
    ex.assign(up);
    go();
  }
}

/** Sends the request upstream; a chunked HTTP/1 body only once its first chunk parsed. */
export function dispatch(ex: Exchange): void {
  if (!ex.chunked || ex.h2) {
    ex.dispatch();
    return;
  }
  // Broken chunk framing gets a 400 from clientError and the upstream sees nothing.
  whenBodyStarts(ex.req as GatewayRequest, (ok) => {
    if (ex.finished) return;
    if (ok) ex.dispatch();
    else {
      ex.res.destroy();
      ex.clientClosed();
    }
  });
}
