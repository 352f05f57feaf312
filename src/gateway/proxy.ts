/**
 * The data plane of one gateway worker: routing, load balancing, the HTTP exchange (undici Pool + a custom
 * dispatch handler, bodies streamed both ways with backpressure), retries, passive ejection, in-flight
 * accounting, retiring instances on route changes, the WebSocket upgrade path and graceful shutdown.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../log/logger.ts';
import { AccessLog } from './accesslog.ts';
import { buildUpstreamHeaders, filterResponseHeaders, type RequestHeadInfo } from './headers.ts';
import {
  checkRequestHead,
  checkWebSocketHandshake,
  maxHeaderSize,
  maxHeaders,
  type Rejection,
  STATUS_TEXT,
  whenBodyStarts,
} from './limits.ts';
import type { GatewaySettings, RouteTable, ServiceStats, UpstreamRole } from './protocol.ts';
import { Router } from './router.ts';
import {
  GatewayStats,
  latencyBucket,
  methodSlot,
  statusClass,
  UPSTREAM_CONNECT,
  UPSTREAM_OTHER,
  UPSTREAM_RESET,
  UPSTREAM_TIMEOUT,
} from './stats.ts';
import { compileMirror, compileTraffic } from './traffic.ts';
import { trustMatcher } from './trust.ts';
import { ServiceState, type ServiceTraffic, Upstream } from './upstream.ts';
import { type RelayHost, WsRelay, writeRawResponse } from './websocket.ts';

export class GatewayRequest extends http.IncomingMessage {}

export class GatewayResponse extends http.ServerResponse<GatewayRequest> {
  exchange: Exchange | null = null;
}

const CLIENT_GONE = Object.assign(new Error('client closed the connection'), { code: 'CUTOVER_CLIENT_GONE' });
const BODY_TOO_LARGE = Object.assign(new Error('request body too large'), { code: 'CUTOVER_BODY_TOO_LARGE' });
const ERROR_HEADERS_CT = 'text/plain; charset=utf-8';
/** Mirror requests per worker, from the moment one is planned (its body being buffered) to its end. */
export const MAX_MIRRORS_IN_FLIGHT = 64;

function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}

/** The connection died under a request that got no response byte (keep-alive reuse race). */
function isSocketError(code: string | undefined): boolean {
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
}

function errorCode(err: Error): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : undefined;
}

function onResClose(this: GatewayResponse): void {
  const ex = this.exchange;
  if (ex !== null && !ex.finished) ex.clientClosed();
}

function onResDrain(this: GatewayResponse): void {
  this.exchange?.resumeUpstream();
}

/** Request body with no Content-Length: streamed as-is, cut at maxBodyBytes. */
async function* limitedBody(ex: Exchange): AsyncGenerator<Buffer> {
  ex.bodyStarted = true;
  const limit = ex.gw.settings.maxBodyBytes;
  let total = 0;
  for await (const chunk of ex.req.iterator({ destroyOnReturn: false })) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      ex.bodyTooLarge = true;
      throw BODY_TOO_LARGE;
    }
    yield buf;
  }
}

/**
 * Request body (any framing) passed upstream while a copy is kept for the mirror, up to the mirror's
 * maxBodyBytes. Unknown-length bodies are still cut at the gateway's maxBodyBytes.
 */
async function* teeBody(ex: Exchange, plan: MirrorPlan): AsyncGenerator<Buffer> {
  ex.bodyStarted = true;
  const limit = ex.chunked ? ex.gw.settings.maxBodyBytes : Number.POSITIVE_INFINITY;
  let total = 0;
  for await (const chunk of ex.req.iterator({ destroyOnReturn: false })) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      ex.bodyTooLarge = true;
      plan.skip();
      throw BODY_TOO_LARGE;
    }
    plan.add(buf);
    yield buf;
  }
  plan.bodyDone();
}

/** A sampled mirror copy whose request body is being buffered. */
class MirrorPlan {
  readonly gw: Gateway;
  readonly target: Upstream;
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly max: number;
  chunks: Buffer[] = [];
  size = 0;
  /** Sent or skipped: the mirror slot is released. */
  settled = false;

  constructor(gw: Gateway, target: Upstream, method: string, path: string, headers: string[], max: number) {
    this.gw = gw;
    this.target = target;
    this.method = method;
    this.path = path;
    this.headers = headers;
    this.max = max;
  }

  add(buf: Buffer): void {
    if (this.settled) return;
    this.size += buf.length;
    if (this.size > this.max) this.skip();
    else this.chunks.push(buf);
  }

  bodyDone(): void {
    if (this.settled) return;
    this.settled = true;
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    const gw = this.gw;
    setImmediate(() => gw.sendMirror(this.target, this.method, this.path, this.headers, body));
  }

  /** Not mirrored after all (body too large, request ended before its body was read). */
  skip(): void {
    if (this.settled) return;
    this.settled = true;
    this.chunks = [];
    this.target.stats.mirrorSkipped++;
    this.gw.mirrorsInFlight--;
  }
}

/** A mirror request: the response is read and discarded, only its outcome is counted. */
class MirrorRequest implements Dispatcher.DispatchHandler {
  readonly gw: Gateway;
  readonly up: Upstream;
  readonly start = performance.now();
  status = 0;
  done = false;

  constructor(gw: Gateway, up: Upstream) {
    this.gw = gw;
    this.up = up;
  }

  onConnect(): void {}

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.status = statusCode;
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.end(true);
  }

  onError(): void {
    this.end(false);
  }

  end(ok: boolean): void {
    if (this.done) return;
    this.done = true;
    const up = this.up;
    const s = up.stats;
    if (ok && this.status !== 0) {
      s.mirrorStatus[statusClass(this.status)]++;
      s.mirrorLatencyMsSum += performance.now() - this.start;
      s.mirrorLatencyCount++;
    } else s.mirrorErrors++;
    this.gw.mirrorsInFlight--;
    up.inflight--;
    this.gw.release(up);
  }
}

/** One client request and its (re)tries upstream. Implements undici's dispatch handler. */
export class Exchange implements Dispatcher.DispatchHandler, RequestHeadInfo {
  readonly gw: Gateway;
  readonly req: GatewayRequest;
  readonly res: GatewayResponse;
  readonly start = performance.now();
  service: ServiceState | null = null;
  upstream: Upstream | null = null;
  /** The role the traffic policy chose (null without `traffic`); retries stay with it. */
  role: UpstreamRole | null = null;
  mirror: MirrorPlan | null = null;
  /** The response is a gateway-generated 502/503/504. */
  gatewayError = false;
  // RequestHeadInfo
  host: string | undefined = undefined;
  contentLength: string | undefined = undefined;
  chunked = false;
  requestId: string | undefined = undefined;
  traceparent: string | undefined = undefined;
  /** Response body bytes relayed (for the access log). */
  bytes = 0;

  opts: Dispatcher.DispatchOptions | null = null;
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

  constructor(gw: Gateway, req: GatewayRequest, res: GatewayResponse) {
    this.gw = gw;
    this.req = req;
    this.res = res;
  }

  assign(up: Upstream): void {
    this.upstream = up;
    up.inflight++;
  }

  dispatch(): void {
    this.connected = false;
    this.reused = false;
    this.abortFn = null;
    this.upstream!.pool.dispatch(this.opts!, this);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    this.connected = true;
    // undici writes the first request on a new connection synchronously after its 'connect' event.
    const up = this.upstream!;
    this.reused = !up.justConnected;
    up.justConnected = false;
    if (this.clientGone) abort(CLIENT_GONE);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.finished) return true;
    if (statusCode < 200) return true;
    const up = this.upstream!;
    if (up.failures !== 0) {
      up.failures = 0;
      up.ejectedUntil = 0;
    }
    this.responded = true;
    this.resumeFn = resume;
    const res = this.res;
    if (this.gw.draining) res.shouldKeepAlive = false;
    try {
      if (statusText) res.writeHead(statusCode, statusText, filterResponseHeaders(rawHeaders));
      else res.writeHead(statusCode, filterResponseHeaders(rawHeaders));
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
    this.bytes += chunk.length;
    const res = this.res;
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

  onComplete(): void {
    if (this.finished) return;
    this.res.end();
    this.finish();
  }

  onError(err: Error): void {
    if (this.finished) return;
    const service = this.service!;
    const up = this.upstream!;
    if (this.responded) {
      // Mid-response: nothing honest can be sent any more; cut the client connection.
      up.stats.upstreamErrors[UPSTREAM_RESET]++;
      this.gw.logger.warn('upstream failed mid-response', {
        service: service.name,
        instance: up.instance,
        error: err,
      });
      this.res.destroy();
      this.finish();
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
        this.gw.connectFailed(up, err);
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
    up.stats.upstreamErrors[
      code === 'UND_ERR_HEADERS_TIMEOUT'
        ? UPSTREAM_TIMEOUT
        : isSocketError(code)
          ? UPSTREAM_RESET
          : UPSTREAM_OTHER
    ]++;
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
    if (this.attempts >= this.gw.settings.retries || this.clientGone) return false;
    const prev = this.upstream!;
    const service = this.gw.currentService(this.service!);
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
    prev.inflight--;
    this.gw.release(prev);
    this.assign(next);
    if (this.mirror !== null) this.opts!.body = teeBody(this, this.mirror) as unknown as Readable;
    else if (this.chunked) this.opts!.body = limitedBody(this) as unknown as Readable;
    this.dispatch();
    return true;
  }

  clientClosed(): void {
    this.clientGone = true;
    this.finish();
    this.abortFn?.(CLIENT_GONE);
  }

  sendError(status: number, body: string, close: boolean): void {
    if (status >= 502 && status <= 504) this.gatewayError = true;
    const res = this.res;
    if (res.headersSent || res.destroyed) res.destroy();
    else {
      if (close || this.gw.draining) res.shouldKeepAlive = false;
      const length = Buffer.byteLength(body);
      this.bytes += length;
      res.writeHead(status, [
        'content-type',
        ERROR_HEADERS_CT,
        'content-length',
        `${length}`,
        'x-request-id',
        this.requestId ?? '',
      ]);
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
      up.inflight--;
      if (up.retired) this.gw.release(up);
      const s = up.stats;
      s.requests++;
      let cls = 0;
      if (res.headersSent) {
        cls = statusClass(res.statusCode);
        s.status[cls]++;
        s.latencyMsSum += ms;
        s.latencyCount++;
        s.latencyBuckets[latencyBucket(ms)]++;
      }
      s.byMethod[methodSlot(this.req.method!, cls)]++;
      if (this.gatewayError) s.errors++;
    } else if (this.gatewayError && this.service !== null) this.service.stats.errors++;
    if (this.mirror !== null) this.mirror.skip();
    const log = this.gw.accessLog;
    if (log?.sampled()) {
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

export class Gateway implements RelayHost {
  readonly settings: GatewaySettings;
  readonly logger: Logger;
  readonly bodyTooLargeBody: string;
  readonly server: http.Server<typeof GatewayRequest, typeof GatewayResponse>;
  router: Router<ServiceState> = new Router<ServiceState>([]);
  services = new Map<string, ServiceState>();
  instances = new Map<string, Upstream>();
  /** Removed from the table, still busy. */
  readonly retired = new Set<Upstream>();
  /** Counters behind GET /stats, since this worker started. */
  readonly stats = new GatewayStats();
  /** Per-request JSON lines (null when `accessLog` is off). */
  readonly accessLog: AccessLog | null;
  /** Mirror requests planned or running (bounded by MAX_MIRRORS_IN_FLIGHT). */
  mirrorsInFlight = 0;
  version = -1;
  draining = false;
  #idPrefix = `${randomBytes(4).toString('hex')}-`;
  #idCounter = 0;
  readonly makeRequestId = (): string => this.#idPrefix + (this.#idCounter++).toString(36);
  /** Peers allowed to set X-Forwarded-* (`trustedProxies`). */
  readonly trusted: (peer: string | undefined) => boolean;
  /**
   * Connections on which a request was rejected as malformed: answered with `Connection: close`, and
   * nothing else parsed from them (pipelined requests behind a bad one) is ever proxied.
   */
  readonly rejected = new WeakSet<net.Socket>();

  constructor(settings: GatewaySettings, logger: Logger) {
    this.settings = settings;
    this.logger = logger;
    this.bodyTooLargeBody = `cutover: request body larger than ${settings.maxBodyBytes} bytes\n`;
    this.accessLog = AccessLog.fromSettings(settings, logger);
    this.trusted = trustMatcher(settings.trustedProxies);
    const server = http.createServer<typeof GatewayRequest, typeof GatewayResponse>(
      {
        IncomingMessage: GatewayRequest,
        ServerResponse: GatewayResponse,
        keepAliveTimeout: settings.clientIdleTimeoutMs,
        headersTimeout: settings.requestHeadTimeoutMs,
        requestTimeout: Math.max(300_000, settings.requestHeadTimeoutMs),
        // Node enforces headersTimeout only when it sweeps connections (default every 30 s).
        connectionsCheckingInterval: Math.max(
          50,
          Math.min(1000, Math.floor(settings.requestHeadTimeoutMs / 4)),
        ),
        // Never the lenient parser: it accepts what a smuggler needs (see limits.ts for what we add).
        insecureHTTPParser: false,
        maxHeaderSize: maxHeaderSize(settings),
        requireHostHeader: true,
      },
      (req, res) => this.handleRequest(req, res),
    );
    server.keepAliveTimeout = settings.clientIdleTimeoutMs;
    // Node silently drops fields beyond maxHeadersCount; keep one more than allowed so checkRequestHead sees it.
    server.maxHeadersCount = maxHeaders(settings) + 1;
    server.headersTimeout = settings.requestHeadTimeoutMs;
    server.on('upgrade', (req: GatewayRequest, socket: net.Socket, head: Buffer) =>
      this.handleUpgrade(req, socket, head),
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      const inProgress = (socket as net.Socket & { _httpMessage?: { headersSent?: boolean } | null })
        ._httpMessage;
      if (this.rejected.has(socket)) {
        // Already answered (400/431/505 with Connection: close): let that response flush, then close.
        socket.end();
        return;
      }
      if (socket.writable && !socket.destroyed && err.code !== 'ECONNRESET' && !inProgress?.headersSent) {
        this.rejected.add(socket);
        const status =
          err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
        const reason =
          status === 408
            ? 'Request Timeout'
            : status === 431
              ? 'Request Header Fields Too Large'
              : 'Bad Request';
        writeRawResponse(socket, status, reason, `cutover: ${reason.toLowerCase()}\n`, undefined);
      } else socket.destroy();
    });
    // CONNECT (tunnels) is not something a reverse proxy offers.
    server.on('connect', (req: GatewayRequest, socket: net.Socket) => {
      socket.on('error', noop);
      this.rejected.add(socket);
      writeRawResponse(socket, 400, 'Bad Request', 'cutover: CONNECT is not supported\n', undefined);
      req.destroy();
    });
    this.server = server;
  }

  /** Answers a malformed request and closes its connection; nothing of it went upstream. */
  #reject(ex: Exchange, rej: Rejection): void {
    this.rejected.add(ex.req.socket);
    ex.sendError(rej.status, `cutover: ${STATUS_TEXT[rej.status].toLowerCase()}: ${rej.reason}\n`, true);
  }

  // ---- data plane -------------------------------------------------------------------------------------

  handleRequest(req: GatewayRequest, res: GatewayResponse): void {
    const ex = new Exchange(this, req, res);
    res.exchange = ex;
    res.sendDate = false;
    res.on('close', onResClose);
    const peer = req.socket.remoteAddress;
    if (this.rejected.has(req.socket)) {
      // Pipelined behind a rejected request: its framing cannot be trusted.
      res.destroy();
      ex.finish();
      return;
    }
    const headers = buildUpstreamHeaders(req.rawHeaders, peer, ex, this.makeRequestId, this.trusted(peer));
    const rejection = checkRequestHead(req, this.settings, false);
    if (rejection !== null) {
      this.#reject(ex, rejection);
      return;
    }
    let path = req.url!;
    if (path.charCodeAt(0) !== 47 /* / */) {
      const abs = absoluteForm(path);
      if (abs === null) {
        ex.sendError(400, 'cutover: unsupported request target\n', false);
        return;
      }
      path = abs.path;
      ex.host = abs.host;
    }
    const service = this.router.match(ex.host, path);
    if (service === undefined) {
      ex.sendError(
        404,
        `cutover: no route for host ${JSON.stringify(ex.host ?? '')} path ${JSON.stringify(path)}\n`,
        false,
      );
      return;
    }
    ex.service = service;
    let body: Readable | null = null;
    if (ex.contentLength !== undefined && !ex.chunked) {
      const n = Number(ex.contentLength);
      if (n > this.settings.maxBodyBytes) {
        ex.sendError(413, this.bodyTooLargeBody, true);
        return;
      }
      if (n > 0) body = req;
    } else if (ex.chunked) {
      body = limitedBody(ex) as unknown as Readable;
    }
    ex.hasBody = body !== null;
    const traffic = service.traffic;
    let up: Upstream | null;
    if (traffic === null) {
      up = service.pick(null);
      if (up === null) {
        ex.sendError(503, service.noInstanceBody, false);
        return;
      }
    } else {
      const role = traffic.decide(req.headers, path);
      const group = service.groupFor(role);
      up = group === null ? null : group.pick(null);
      if (up === null) {
        ex.sendError(503, role === 'preview' ? service.noPreviewBody : service.noInstanceBody, false);
        return;
      }
      ex.role = role;
      if (group === traffic.stable && traffic.mirror !== null) {
        body = this.#planMirror(ex, traffic, path, headers, body);
      }
    }
    ex.opts = { method: req.method!, path, headers, body };
    ex.assign(up);
    if (!ex.chunked) {
      ex.dispatch();
      return;
    }
    // A chunked body is only sent once its first chunk has parsed: broken chunk framing gets a 400 from
    // clientError and the upstream sees nothing.
    whenBodyStarts(req, (ok) => {
      if (ex.finished) return;
      if (ok) ex.dispatch();
      else {
        ex.res.destroy();
        ex.clientClosed();
      }
    });
  }

  /** Samples a request served by stable for mirroring; returns the body to send upstream (maybe teed). */
  #planMirror(
    ex: Exchange,
    traffic: ServiceTraffic,
    path: string,
    headers: string[],
    body: Readable | null,
  ): Readable | null {
    const m = traffic.mirror!;
    const method = ex.req.method!;
    if (!(Math.random() * 100 < m.percent) || !m.matches(method, path)) return body;
    const target = traffic.canary.pick(null);
    if (target === null) return body;
    if (this.mirrorsInFlight >= MAX_MIRRORS_IN_FLIGHT || this.draining) {
      target.stats.mirrorSkipped++;
      return body;
    }
    if (body === null) {
      this.mirrorsInFlight++;
      setImmediate(() => this.sendMirror(target, method, path, headers, null));
      return null;
    }
    if (!ex.chunked && Number(ex.contentLength) > m.maxBodyBytes) {
      target.stats.mirrorSkipped++;
      return body;
    }
    this.mirrorsInFlight++;
    const plan = new MirrorPlan(this, target, method, path, headers, m.maxBodyBytes);
    ex.mirror = plan;
    return teeBody(ex, plan) as unknown as Readable;
  }

  /**
   * Sends a mirror copy (already counted in mirrorsInFlight by the caller). Never throws and never touches
   * the client's exchange.
   */
  sendMirror(up: Upstream, method: string, path: string, headers: string[], body: Buffer | null): void {
    if (up.retired || this.draining) {
      up.stats.mirrorSkipped++;
      this.mirrorsInFlight--;
      return;
    }
    up.stats.mirrorSent++;
    up.inflight++;
    const handler = new MirrorRequest(this, up);
    const timeout = this.settings.upstreamTimeoutMs;
    try {
      up.pool.dispatch(
        {
          method,
          path,
          headers: [...headers, 'x-cutover-mirror', '1'],
          body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        },
        handler,
      );
    } catch {
      handler.end(false);
    }
  }

  handleUpgrade(req: GatewayRequest, socket: net.Socket, head: Buffer): void {
    socket.on('error', noop);
    if (this.rejected.has(socket)) {
      socket.destroy();
      return;
    }
    const info: RequestHeadInfo = {
      host: undefined,
      contentLength: undefined,
      chunked: false,
      requestId: undefined,
    };
    const peer = socket.remoteAddress;
    const headers = buildUpstreamHeaders(req.rawHeaders, peer, info, this.makeRequestId, this.trusted(peer));
    if (this.draining) {
      writeRawResponse(
        socket,
        503,
        'Service Unavailable',
        'cutover: gateway shutting down\n',
        info.requestId,
      );
      return;
    }
    const rejection = checkRequestHead(req, this.settings, true);
    if (rejection !== null) {
      this.rejected.add(socket);
      const reason = STATUS_TEXT[rejection.status];
      const body = `cutover: ${reason.toLowerCase()}: ${rejection.reason}\n`;
      writeRawResponse(socket, rejection.status, reason, body, info.requestId);
      return;
    }
    const invalid = checkWebSocketHandshake(req);
    if (invalid !== null) {
      this.rejected.add(socket);
      writeRawResponse(
        socket,
        400,
        'Bad Request',
        `cutover: bad upgrade request: ${invalid}\n`,
        info.requestId,
      );
      return;
    }
    const path = req.url!;
    const service = this.router.match(info.host, path);
    if (service === undefined) {
      const body = `cutover: no route for host ${JSON.stringify(info.host ?? '')} path ${JSON.stringify(path)}\n`;
      writeRawResponse(socket, 404, 'Not Found', body, info.requestId);
      return;
    }
    let role: UpstreamRole | null = null;
    let up: Upstream | null;
    if (service.traffic === null) up = service.pick(null);
    else {
      role = service.traffic.decide(req.headers, path);
      up = service.groupFor(role)?.pick(null) ?? null;
    }
    if (up === null) {
      const body = role === 'preview' ? service.noPreviewBody : service.noInstanceBody;
      writeRawResponse(socket, 503, 'Service Unavailable', body, info.requestId);
      return;
    }
    let text = `GET ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    text += 'connection: Upgrade\r\nupgrade: websocket\r\n\r\n';
    new WsRelay(this, service, up, socket, Buffer.from(text, 'latin1'), head, info.requestId!, role);
  }

  // ---- RelayHost / bookkeeping -------------------------------------------------------------------------

  get connectTimeoutMs(): number {
    return this.settings.connectTimeoutMs;
  }
  get upstreamTimeoutMs(): number {
    return this.settings.upstreamTimeoutMs;
  }
  get retries(): number {
    return this.settings.retries;
  }

  connectFailed(up: Upstream, err: Error): void {
    up.failures++;
    if (up.failures >= this.settings.ejectAfterFailures && this.settings.ejectAfterFailures > 0) {
      const wasEjected = up.ejectedUntil > Date.now();
      up.ejectedUntil = Date.now() + this.settings.ejectForMs;
      if (!wasEjected) {
        up.stats.owner?.ejected(up.instance);
        this.logger.warn('instance ejected', {
          instance: up.instance,
          address: up.address,
          failures: up.failures,
          ejectForMs: this.settings.ejectForMs,
          error: err,
        });
      }
    }
  }

  connectSucceeded(up: Upstream): void {
    if (up.failures !== 0) {
      up.failures = 0;
      up.ejectedUntil = 0;
    }
  }

  /** Called when a retired instance may have become idle. */
  release(up: Upstream): void {
    if (up.retired && up.inflight === 0) this.retired.delete(up);
  }

  /** The service's state in the current table (the same name), or the old one if it was removed. */
  currentService(service: ServiceState): ServiceState {
    return this.services.get(service.name) ?? service;
  }

  applyTable(table: RouteTable): void {
    const next = new Map<string, Upstream>();
    const services = new Map<string, ServiceState>();
    const entries = [];
    for (const def of table.services) {
      const ups: Upstream[] = [];
      const svcStats = this.stats.service(def.name);
      for (const u of def.upstreams) {
        let up = next.get(u.instance);
        if (up === undefined) {
          const existing = this.instances.get(u.instance);
          up =
            existing !== undefined && existing.address === u.address
              ? existing
              : new Upstream(u.instance, u.address, this.settings);
          next.set(u.instance, up);
        }
        up.stats = svcStats.revision(u.revision, u.role ?? 'stable', u.version);
        ups.push(up);
      }
      let compiled = null;
      if (def.traffic !== undefined) {
        const c = compileTraffic(def.traffic);
        if (c.problems.length > 0) {
          this.logger.error('traffic rules with problems (those conditions never match)', {
            service: def.name,
            problems: c.problems,
          });
        }
        compiled = {
          decide: c.decide,
          mirror: def.traffic.mirror ? compileMirror(def.traffic.mirror) : null,
        };
      }
      const state = new ServiceState(def, ups, this.settings.upstreamTimeoutMs, svcStats, compiled);
      services.set(def.name, state);
      entries.push({ host: def.host, pathPrefix: def.pathPrefix, value: state });
    }
    const router = new Router(entries);
    const old = this.instances;
    this.instances = next;
    this.services = services;
    this.router = router;
    this.version = table.version;
    for (const [id, up] of old) if (next.get(id) !== up) this.retire(up);
  }

  retire(up: Upstream): void {
    up.retired = true;
    if (up.inflight > 0) this.retired.add(up);
    this.logger.info('instance retired', { instance: up.instance, inflight: up.inflight });
    // Idle connections close now, busy ones after their response.
    up.pool.close().catch(noop);
    for (const relay of up.relays) relay.closeGoingAway('instance retired');
  }

  /** This worker's counters for GET /stats. */
  statsReport(): Record<string, ServiceStats> {
    return this.stats.report([...this.instances.values(), ...this.retired]);
  }

  inflight(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, up] of this.instances) out[id] = (out[id] ?? 0) + up.inflight;
    for (const up of this.retired) {
      if (up.inflight > 0) out[up.instance] = (out[up.instance] ?? 0) + up.inflight;
    }
    return out;
  }

  totalInflight(): number {
    let n = 0;
    for (const up of this.instances.values()) n += up.inflight;
    for (const up of this.retired) n += up.inflight;
    return n;
  }

  listen(handle: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(handle as net.Server, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Stop accepting, close idle keep-alive connections, let in-flight requests finish (responses carry
   * `Connection: close`), close WebSockets with 1001, resolve when everything is closed or after timeoutMs.
   */
  shutdown(timeoutMs: number): Promise<void> {
    if (this.#shutdown === null) this.#shutdown = this.#drain(timeoutMs);
    return this.#shutdown;
  }

  #shutdown: Promise<void> | null = null;

  #drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const server = this.server;
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearInterval(sweep);
        clearTimeout(deadline);
        server.closeAllConnections();
        for (const up of [...this.instances.values(), ...this.retired]) {
          up.pool.destroy().catch(noop);
          for (const relay of up.relays) relay.destroy();
        }
        // Queued access log lines are written before the worker reports it is done.
        if (this.accessLog === null) resolve();
        else this.accessLog.close().then(resolve, resolve);
      };
      let serverClosed = false;
      // Connections whose last response finished become idle: close them until the server has none left
      // and every exchange (WebSocket relays included) has released its instance.
      const sweep = setInterval(() => {
        server.closeIdleConnections();
        if (serverClosed && this.totalInflight() === 0) finish();
      }, 20);
      const deadline = setTimeout(() => {
        if (!done)
          this.logger.warn('shutdown timeout: cutting remaining requests', {
            inflight: this.totalInflight(),
          });
        finish();
      }, timeoutMs);
      server.close(() => {
        serverClosed = true;
        if (this.totalInflight() === 0) finish();
      });
      server.closeIdleConnections();
      const relays = [];
      for (const up of this.instances.values()) relays.push(...up.relays);
      for (const up of this.retired) relays.push(...up.relays);
      for (const relay of relays) relay.closeGoingAway('gateway shutting down');
    });
  }
}

function absoluteForm(target: string): { host: string; path: string } | null {
  if (!target.startsWith('http://') && !target.startsWith('https://')) return null;
  try {
    const u = new URL(target);
    return { host: u.host, path: u.pathname + u.search };
  } catch {
    return null;
  }
}

function noop(): void {}
