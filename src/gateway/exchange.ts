/**
 * One proxied request: its dispatch upstream (a dispatch handler, dispatcher.ts; the response
 * streamed back with backpressure), retries, error classification and answers, and the accounting when it
 * ends (counters, access log, releasing its instance).
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { AccessLog } from './accesslog.ts';
import { type BodyOwner, type ReplayCopy, streamBody } from './body.ts';
import { addTrailers, endWithUnavailable, flushPendingHead, respondTrailersOnly } from './client-end.ts';
import {
  type ClientRequest,
  type ClientResponse,
  type GatewayH2Response,
  type GatewayRequest,
  type GatewayResponse,
  onResDrain,
  type ResponseOwner,
} from './client-messages.ts';
import type { UpstreamHandler, UpstreamRequest } from './dispatcher.ts';
import { GRPC_UNKNOWN, grpcStatusOfList } from './grpc.ts';
import { declaredLength, filterResponseHeaders, type RequestHeadInfo } from './headers.ts';
import type { MirrorPlan } from './mirror.ts';
import type { GatewaySettings, UpstreamRole } from './protocol.ts';
import { countAnswer, countGrpcStatus, UPSTREAM_CONNECT, UPSTREAM_OTHER, UPSTREAM_RESET } from './stats.ts';
import type { Routing } from './table.ts';
import type { GrpcCall, RoutedService, Upstream } from './upstream.ts';
import { errorCode, isIdempotent, isSocketError, sentErrorSlot } from './upstream-errors.ts';

/** What an exchange needs of its worker. */
export interface ExchangeHost {
  readonly settings: GatewaySettings;
  readonly logger: Logger;
  readonly routing: Routing;
  readonly draining: boolean;
  readonly bodyTooLargeBody: string;
  /** Null when `accessLog` is off. */
  readonly accessLog: AccessLog | null;
  /** `Strict-Transport-Security` value for HTTPS responses, or null. */
  readonly hsts: string | null;
  /** Told when an HTTP/1 response on `socket` closed (the worker's retire looks for idle connections). */
  readonly connectionIdle: ((socket: net.Socket) => void) | null;
}

const CLIENT_GONE = Object.assign(new Error('client closed the connection'), { code: 'CUTOVER_CLIENT_GONE' });
const CALL_ENDED = Object.assign(new Error('gRPC call ended by the gateway'), { code: 'CUTOVER_CALL_ENDED' });
const CONNECTION_LOST_MESSAGE = 'cutover: connection to the instance lost during the call';
const ERROR_HEADERS_CT = 'text/plain; charset=utf-8';
const NO_TRAILERS: string[] = [];
/** Up to this size a whole response body is joined to its head as text (see onData). */
const ONE_WRITE_BODY_BYTES = 2048;

/** One client request and its (re)tries upstream. */
export class Exchange implements UpstreamHandler, RequestHeadInfo, BodyOwner, GrpcCall, ResponseOwner {
  readonly gw: ExchangeHost;
  readonly req: ClientRequest;
  readonly res: ClientResponse;
  /** The client speaks HTTP/2 (req and res are the http2 compatibility objects). */
  readonly h2: boolean;
  /** The client connection is TLS. */
  tls = false;
  readonly start = performance.now();
  service: RoutedService | null = null;
  upstream: Upstream | null = null;
  /** The role the traffic policy chose (null without `traffic`); retries stay with it. */
  role: UpstreamRole | null = null;
  mirror: MirrorPlan | null = null;
  /** A small body kept to replay on a refused stream (HTTP/2 instances only), or null. */
  replay: ReplayCopy | null = null;
  /** The response is a gateway-generated 502/503/504. */
  gatewayError = false;
  // RequestHeadInfo
  host: string | undefined = undefined;
  contentLength: string | undefined = undefined;
  chunked = false;
  requestId: string | undefined = undefined;
  traceparent: string | undefined = undefined;
  teTrailers = false;
  /**
   * A gRPC trailers-only response (grpc-status in the head) held back from an HTTP/2 client until the
   * upstream stream ends, so the client gets it as one HEADERS frame with END_STREAM as gRPC requires.
   */
  pendingHead: { status: number; headers: string[] } | null = null;
  /** Response body bytes relayed (for the access log). */
  bytes = 0;
  /** `bytes` once the declared body is relayed (HTTP/1 client, HTTP/1.1 upstream, Content-Length), else -1. */
  endAt = -1;
  /** Not a service request (the load balancer's health check): no access log line. */
  unlogged = false;

  opts: UpstreamRequest | null = null;
  abortFn: ((err?: Error) => void) | null = null;
  resumeFn: (() => void) | null = null;
  attempts = 0;
  tried: Upstream[] | null = null;
  connected = false;
  reused = false;
  responded = false;
  finished = false;
  clientGone = false;
  hasBody = false;
  bodyStarted = false;
  bodyTooLarge = false;
  drainHooked = false;

  constructor(gw: ExchangeHost, req: ClientRequest, res: ClientResponse, h2: boolean) {
    this.gw = gw;
    this.req = req;
    this.res = res;
    this.h2 = h2;
  }

  /** Writes the response head; HTTP/2 has no reason phrase and no connection management. */
  writeHead(status: number, statusText: string, headers: string[]): void {
    if (this.tls && this.gw.hsts !== null) headers.push('strict-transport-security', this.gw.hsts);
    if (this.h2) {
      (this.res as GatewayH2Response).writeHead(status, headers as unknown as http.OutgoingHttpHeaders);
      return;
    }
    const res = this.res as GatewayResponse;
    if (this.gw.draining) res.shouldKeepAlive = false;
    if (statusText) res.writeHead(status, statusText, headers);
    else res.writeHead(status, headers);
  }

  get maxBodyBytes(): number {
    return this.gw.settings.maxBodyBytes;
  }

  assign(up: Upstream): void {
    this.upstream = up;
    up.inflight++;
    up.grpcCalls?.add(this);
  }

  /** The instance lets go of this exchange (retried elsewhere, or finished). */
  unassign(up: Upstream): void {
    up.inflight--;
    up.grpcCalls?.delete(this);
  }

  dispatch(): void {
    this.connected = false;
    this.reused = false;
    this.abortFn = null;
    this.upstream!.pool.dispatch(this.opts!, this);
  }

  onConnect(abort: (err?: Error) => void, reused: boolean): void {
    this.abortFn = abort;
    this.connected = true;
    this.reused = reused;
    if (this.clientGone) abort(CLIENT_GONE);
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusText: string): boolean {
    if (this.finished) return true;
    if (statusCode < 200) return true;
    const up = this.upstream!;
    this.gw.routing.connectSucceeded(up);
    this.responded = true;
    this.resumeFn = resume;
    try {
      const headers = filterResponseHeaders(rawHeaders);
      const status = this.service!.protocol === 'grpc' ? grpcStatusOfList(rawHeaders) : -1;
      if (status !== -1) {
        // A trailers-only response: counted when it completes.
        this.grpcStatus = status;
        if (this.h2) {
          this.pendingHead = { status: statusCode, headers };
          return true;
        }
      }
      this.writeHead(statusCode, statusText, headers);
      if (!this.h2 && this.service!.protocol === 'http') this.endAt = declaredLength(headers);
    } catch (err) {
      this.responded = false;
      up.stats.upstreamErrors[UPSTREAM_OTHER]++;
      this.gw.logger.warn('invalid upstream response head', {
        service: this.service!.name,
        instance: up.instance,
        error: err as Error,
      });
      this.sendError(502, this.service!.upstreamErrorBody, false);
      this.abortFn?.(err as Error);
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.finished) return true;
    if (this.pendingHead !== null) flushPendingHead(this);
    this.bytes += chunk.length;
    const res = this.res as GatewayResponse;
    // The last chunk of a declared body: end(chunk) writes it without write()'s cork tick and end()'s
    // finish tick. onComplete follows (nothing can: the upstream's framing ends here).
    if (this.bytes === this.endAt) {
      // A small body that came whole (so the head, which node:http holds until the first body bytes, is
      // not written yet) goes as latin1 text, byte for byte the same: head and body are then one string
      // and one write, not a writev of two buffers.
      if (chunk.length === this.bytes && chunk.length <= ONE_WRITE_BODY_BYTES)
        res.end(chunk.toString('latin1'), 'latin1');
      else res.end(chunk);
      return true;
    }
    if (res.write(chunk)) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      res.on('drain', onResDrain);
    }
    return false;
  }

  resumeUpstream(): void {
    if (!this.finished) this.resumeFn?.();
  }

  /** A grpc-status seen in the response head (trailers-only), or -1. */
  grpcStatus = -1;

  onComplete(trailers: string[] | null): void {
    if (this.finished) return;
    const service = this.service!;
    const list = trailers ?? NO_TRAILERS;
    if (service.protocol === 'grpc' && (this.pendingHead?.status ?? this.res.statusCode) === 200) {
      const fromTrailers = grpcStatusOfList(list);
      const code =
        fromTrailers !== -1 ? fromTrailers : this.grpcStatus !== -1 ? this.grpcStatus : GRPC_UNKNOWN;
      countGrpcStatus(this.upstream!.stats, code, service.grpcFailure);
    }
    const pending = this.pendingHead;
    if (pending !== null) {
      this.pendingHead = null;
      respondTrailersOnly(this, pending.status, pending.headers);
      this.finish();
      return;
    }
    if (list.length > 0) addTrailers(this, list);
    this.res.end();
    this.finish();
  }

  /**
   * GrpcCall: the gateway ends the call towards the client with UNAVAILABLE (a retryable status) and
   * cancels it upstream: a drained instance's long stream, or its connection lost mid-call.
   */
  endUnavailable(message: string): void {
    if (this.finished) return;
    const up = this.upstream!;
    up.stats.grpcDrained++;
    endWithUnavailable(this, message);
    this.abortFn?.(CALL_ENDED);
  }

  onError(err: Error): void {
    if (this.finished) return;
    const service = this.service!;
    const up = this.upstream!;
    if (this.responded) {
      up.stats.upstreamErrors[UPSTREAM_RESET]++;
      this.gw.logger.warn('upstream failed mid-response', {
        service: service.name,
        instance: up.instance,
        error: err,
      });
      // A gRPC call can still end honestly: UNAVAILABLE is what its client would read a reset as, minus the
      // transport error. Any other response is cut (nothing honest can be sent any more).
      if (service.protocol === 'grpc') endWithUnavailable(this, CONNECTION_LOST_MESSAGE);
      else {
        this.res.destroy();
        this.finish();
      }
      return;
    }
    if (this.bodyTooLarge) {
      this.sendError(413, this.gw.bodyTooLargeBody, true);
      return;
    }
    const code = errorCode(err);
    if (code === 'UND_ERR_INVALID_ARG') {
      this.sendError(400, `cutover: request rejected: ${err.message}\n`, true);
      return;
    }
    if (!this.connected) {
      // The request never left the gateway: safe to send elsewhere for any method, unless body bytes were read.
      if (code !== 'UND_ERR_CLOSED' && code !== 'UND_ERR_DESTROYED') {
        up.stats.upstreamErrors[UPSTREAM_CONNECT]++;
        this.gw.routing.connectFailed(up, err);
      }
      if (!this.bodyConsumed() && this.retry(false)) return;
      this.gw.logger.warn('upstream connect failed', {
        service: service.name,
        instance: up.instance,
        attempts: this.attempts + 1,
        error: err,
      });
      this.sendError(502, service.connectFailedBody, false);
      return;
    }
    up.stats.upstreamErrors[sentErrorSlot(code)]++;
    // A refused stream was never processed: any method goes again, with its body when it was kept whole.
    if (code === 'UND_ERR_REFUSED' && (!this.hasBody || this.replay?.complete === true) && this.retry(true))
      return;
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      this.gw.logger.warn('upstream response timeout', { service: service.name, instance: up.instance });
      this.sendError(504, service.timeoutBody, false);
      return;
    }
    if (
      this.reused &&
      !this.hasBody &&
      isSocketError(code) &&
      isIdempotent(this.req.method!) &&
      this.retry(true)
    ) {
      return;
    }
    this.gw.logger.warn('upstream failed before responding', {
      service: service.name,
      instance: up.instance,
      error: err,
    });
    this.sendError(502, service.upstreamErrorBody, false);
  }

  bodyConsumed(): boolean {
    if (!this.hasBody) return false;
    return this.chunked ? this.bodyStarted : this.req.readableDidRead;
  }

  retry(allowSame: boolean): boolean {
    const service = this.gw.routing.current(this.service!);
    if (this.attempts >= (service.retryAttempts ?? this.gw.settings.retries) || this.clientGone) return false;
    if (service.retryBudget !== null && !service.retryBudget.take()) return false;
    const prev = this.upstream!;
    this.service = service;
    if (this.tried === null) this.tried = [prev];
    else this.tried.push(prev);
    let next = this.role === null ? service.pick(this.tried) : service.pickFor(this.role, this.tried);
    if (next === null) {
      if (!allowSame || prev.retired) return false;
      next = prev;
    }
    this.attempts++;
    service.stats.retries++;
    this.unassign(prev);
    this.gw.routing.release(prev);
    this.assign(next);
    const replay = this.replay;
    if (replay?.complete) this.opts!.body = replay.buffer();
    else if (this.mirror !== null || this.chunked || replay !== null)
      this.opts!.body = streamBody(this, replay ?? this.mirror);
    this.dispatch();
    return true;
  }

  responseClosed(): void {
    if (!this.finished) this.clientClosed();
    if (!this.h2) this.gw.connectionIdle?.((this.req as GatewayRequest).socket);
  }

  clientClosed(): void {
    this.clientGone = true;
    this.finish();
    this.abortFn?.(CLIENT_GONE);
  }

  /** A response the gateway makes itself (not an error of any instance): an ACME token, a redirect. */
  answer(status: number, headers: string[], body: string): void {
    const length = Buffer.byteLength(body);
    this.bytes += length;
    headers.push('content-length', `${length}`);
    this.writeHead(status, '', headers);
    this.res.end(body);
    this.finish();
  }

  sendError(status: number, body: string, close: boolean): void {
    if (status >= 502 && status <= 504) this.gatewayError = true;
    this.#sendPlain(status, body, close, null);
  }

  /** A request a limit turned away: not an error of any instance or of the gateway. */
  sendLimited(
    status: number,
    body: string,
    retryAfterSeconds: number,
    extra?: readonly string[],
    close = false,
  ): void {
    this.#sendPlain(status, body, close, ['retry-after', `${retryAfterSeconds}`, ...(extra ?? [])]);
  }

  #sendPlain(status: number, body: string, close: boolean, extra: readonly string[] | null): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) res.destroy();
    else {
      if (close && !this.h2) (res as GatewayResponse).shouldKeepAlive = false;
      const length = Buffer.byteLength(body);
      this.bytes += length;
      const headers = ['content-type', ERROR_HEADERS_CT, 'content-length', `${length}`];
      if (extra !== null) headers.push(...extra);
      headers.push('x-request-id', this.requestId ?? '');
      this.writeHead(status, '', headers);
      res.end(body);
    }
    this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const up = this.upstream;
    const res = this.res;
    const ms = performance.now() - this.start;
    if (up !== null) {
      this.unassign(up);
      if (up.retired) this.gw.routing.release(up);
      if (this.service !== null) this.gw.routing.limitOf(this.service)?.released(this.service);
      const s = up.stats;
      const cls = countAnswer(
        s,
        this.req.method!,
        res.headersSent ? res.statusCode : 0,
        ms,
        this.gatewayError,
      );
      this.service?.outliers?.observe(up, s.revision, cls === 5 || this.gatewayError, Date.now());
    } else if (this.gatewayError && this.service !== null) this.service.stats.errors++;
    this.service?.retryBudget?.earn();
    if (this.mirror !== null) this.mirror.skip();
    const log = this.gw.accessLog;
    if (!this.unlogged && log?.sampled()) {
      log.write({
        service: this.service?.name ?? null,
        revision: up?.stats.revision ?? null,
        instance: up?.instance ?? null,
        method: this.req.method!,
        path: this.req.url!,
        status: res.headersSent ? res.statusCode : 0,
        durationMs: ms,
        bytes: this.bytes,
        requestId: this.requestId,
        traceparent: this.traceparent,
      });
    }
  }
}
