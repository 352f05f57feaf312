/**
 * The client-side request and response classes the gateway's servers create (HTTP/1.x and, through
 * node:http2's compatibility API, HTTP/2), each response pointing at the exchange that answers it, and
 * the response listeners shared by every exchange (one function each, no closure per request).
 */
import http from 'node:http';
import http2 from 'node:http2';

/** What a response needs of the exchange answering it (structural: no import of exchange.ts). */
export interface ResponseOwner {
  /** The response closed (sent, or the client went away). */
  responseClosed(): void;
  /** The client connection drained: read on upstream. */
  resumeUpstream(): void;
}

export class GatewayRequest extends http.IncomingMessage {}

export class GatewayResponse extends http.ServerResponse<GatewayRequest> {
  exchange: ResponseOwner | null = null;
}

/** A request from an HTTP/2 client (TLS with ALPN h2, or h2c), through node:http2's compatibility API. */
export class GatewayH2Request extends http2.Http2ServerRequest {}

export class GatewayH2Response extends http2.Http2ServerResponse {
  exchange: ResponseOwner | null = null;
}

/** The client side of an exchange: HTTP/1.x or HTTP/2 (`Exchange.h2` says which). */
export type ClientRequest = GatewayRequest | GatewayH2Request;
export type ClientResponse = GatewayResponse | GatewayH2Response;

/** Wired once per response. */
export function onResClose(this: ClientResponse): void {
  this.exchange?.responseClosed();
}

export function onResDrain(this: ClientResponse): void {
  this.exchange?.resumeUpstream();
}
