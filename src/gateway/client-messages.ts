/**
 * The client-side request and response classes the gateway's servers create (HTTP/1.x and, through
 * node:http2's compatibility API, HTTP/2), each response pointing at the exchange that answers it, and
 * the response listeners shared by every exchange (one function each, no closure per request).
 */
import type http2 from 'node:http2';
import { nodeHttp, nodeHttp2 } from '../util/builtins.ts';

/** What a response needs of the exchange answering it (structural: no import of exchange.ts). */
export interface ResponseOwner {
  /** The response closed (sent, or the client went away). */
  responseClosed(): void;
  /** The client connection drained: read on upstream. */
  resumeUpstream(): void;
}

export class GatewayRequest extends nodeHttp.IncomingMessage {}

export class GatewayResponse extends nodeHttp.ServerResponse<GatewayRequest> {
  exchange: ResponseOwner | null = null;
}

/** A request from an HTTP/2 client (TLS with ALPN h2, or h2c), through node:http2's compatibility API. */
export type GatewayH2Request = http2.Http2ServerRequest;

export interface GatewayH2Response extends http2.Http2ServerResponse {
  exchange: ResponseOwner | null;
}

export interface H2MessageClasses {
  readonly Request: typeof http2.Http2ServerRequest;
  readonly Response: typeof http2.Http2ServerResponse;
}

let h2Classes: H2MessageClasses | null = null;

/** The HTTP/2 request and response classes, made on first use (node:http2 is loaded then, builtins.ts). */
export function h2MessageClasses(): H2MessageClasses {
  h2Classes ??= makeH2Classes();
  return h2Classes;
}

function makeH2Classes(): H2MessageClasses {
  const h2 = nodeHttp2();
  class GatewayH2Res extends h2.Http2ServerResponse {
    exchange: ResponseOwner | null = null;
  }
  // The declared class's generic construct signature cannot be matched by a subclass; the runtime contract
  // (node:http2 constructs it with the stream) is the same.
  return {
    Request: h2.Http2ServerRequest,
    Response: GatewayH2Res as unknown as typeof h2.Http2ServerResponse,
  };
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
