/**
 * The last stage of the per-request path: the chosen instance gets the request, through the
 * service's concurrency limit and fault injection when the route table gives it those (without
 * either, nothing is allocated here).
 */
import type { Exchange, GatewayRequest } from './exchange.ts';
import { whenBodyStarts } from './limits.ts';
import type { Routing } from './table.ts';
import type { RoutedService, Upstream } from './upstream.ts';

export function sendTo(routing: Routing, ex: Exchange, service: RoutedService, up: Upstream): void {
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
