/**
 * How an exchange ends towards its client beyond a plain body: upstream trailers relayed, a gRPC
 * trailers-only response as one HEADERS frame, and a gRPC call the gateway ends with UNAVAILABLE.
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Logger } from '../log/logger.ts';
import { GRPC_UNAVAILABLE, headerObject, unavailableTrailers } from './grpc.ts';

/**
 * The part of an exchange its ending needs. Structural, so exchange.ts can call these functions
 * without the two files importing each other.
 */
export interface EndingExchange {
  readonly res: http.ServerResponse | http2.Http2ServerResponse;
  readonly gw: { readonly logger: Logger; readonly hsts: string | null };
  readonly h2: boolean;
  readonly tls: boolean;
  readonly service: { readonly name: string } | null;
  readonly upstream: { readonly instance: string } | null;
  pendingHead: { status: number; headers: string[] } | null;
  writeHead(status: number, statusText: string, headers: string[]): void;
  finish(): void;
}

/** Relays upstream trailers: HTTP/2 clients always, HTTP/1.1 clients when the response is chunked. */
export function addTrailers(ex: EndingExchange, list: string[]): void {
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

export function flushPendingHead(ex: EndingExchange): void {
  const pending = ex.pendingHead!;
  ex.pendingHead = null;
  ex.writeHead(pending.status, '', pending.headers);
}

/** One HEADERS frame with END_STREAM (the compatibility API would add an empty DATA frame). */
export function respondTrailersOnly(ex: EndingExchange, status: number, headers: string[]): void {
  const res = ex.res as http2.Http2ServerResponse;
  if (ex.tls && ex.gw.hsts !== null) headers.push('strict-transport-security', ex.gw.hsts);
  res.statusCode = status;
  const stream = res.stream;
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ...headerObject(headers), ':status': status }, { endStream: true });
}

export function endWithUnavailable(ex: EndingExchange, message: string): void {
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
