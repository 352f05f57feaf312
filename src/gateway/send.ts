/**
 * The last stage of the per-request path: the chosen instance gets the request, through the
 * service's rate limit, concurrency limit and fault injection when the route table gives it those
 * (without them, nothing is allocated here; with a rate limit, only a request that waits for tokens).
 */
import type { Exchange, GatewayRequest } from './exchange.ts';
import { whenBodyStarts } from './limits.ts';
import type { Routing } from './table.ts';
import type { RoutedService, Upstream } from './upstream.ts';

export function sendTo(routing: Routing, ex: Exchange, service: RoutedService, up: Upstream): void {
  const rate = routing.rateOf(service);
  if (rate !== null) {
    const req = ex.req;
    const key = rate.keyOf(req.headers, ex.opts!.path, req.socket.remoteAddress);
    const now = Date.now();
    if (!rate.take(key, now)) {
      rate.wait(key, ex, up.stats, () => afterRateWait(routing, ex, service, up), now);
      return;
    }
  }
  admitted(routing, ex, service, up);
}

/** Admitted after waiting for tokens: the table may have changed meanwhile. */
function afterRateWait(routing: Routing, ex: Exchange, service: RoutedService, up: Upstream): void {
  if (!up.retired) {
    admitted(routing, ex, service, up);
    return;
  }
  const now = routing.current(service);
  const other = now.pickFor(ex.role, null);
  ex.service = now;
  if (other === null) ex.sendError(503, now.noInstanceBody, false);
  else admitted(routing, ex, now, other);
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
