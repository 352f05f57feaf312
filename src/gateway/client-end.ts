/**
 * How an exchange ends towards its client beyond a plain body: upstream trailers relayed, a gRPC
 * trailers-only response as one HEADERS frame, and a gRPC call the gateway ends with UNAVAILABLE.
 */
import type { Exchange, GatewayH2Response } from './exchange.ts';
import { GRPC_UNAVAILABLE, headerObject, unavailableTrailers } from './grpc.ts';

/** Relays upstream trailers: HTTP/2 clients always, HTTP/1.1 clients when the response is chunked. */
export function addTrailers(ex: Exchange, list: string[]): void {
  try {
    ex.res.addTrailers(headerObject(list));
  } catch (err) {
    ex.gw.logger.warn('upstream trailers not relayed', {
      service: ex.service!.name,
      instance: ex.upstream!.instance,
      error: err as Error,
    });
  }
}

export function flushPendingHead(ex: Exchange): void {
  const pending = ex.pendingHead!;
  ex.pendingHead = null;
  ex.writeHead(pending.status, '', pending.headers);
}

/** One HEADERS frame with END_STREAM (the compatibility API would add an empty DATA frame). */
export function respondTrailersOnly(ex: Exchange, status: number, headers: string[]): void {
  const res = ex.res as GatewayH2Response;
  if (ex.tls && ex.gw.hsts !== null) headers.push('strict-transport-security', ex.gw.hsts);
  res.statusCode = status;
  const stream = res.stream;
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ...headerObject(headers), ':status': status }, { endStream: true });
}

export function endWithUnavailable(ex: Exchange, message: string): void {
  const trailers = unavailableTrailers(message);
  if (ex.pendingHead !== null) flushPendingHead(ex);
  const res = ex.res;
  if (res.destroyed) {
    ex.finish();
    return;
  }
  if (!res.headersSent) {
    const head = [
      'content-type',
      'application/grpc',
      'grpc-status',
      `${GRPC_UNAVAILABLE}`,
      'grpc-message',
      message,
    ];
    if (ex.h2) respondTrailersOnly(ex, 200, head);
    else {
      ex.writeHead(200, '', head);
      res.end();
    }
    ex.finish();
    return;
  }
  res.addTrailers(trailers);
  res.end();
  ex.finish();
}
