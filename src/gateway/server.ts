/**
 * One gateway worker's HTTP server and the per-request path, in stages: admit the head, route it, frame
 * its body, choose an instance (and maybe a mirror), dispatch. Each stage answers the request itself when
 * it stops it. The WebSocket path is upgrade.ts; one request's life upstream is exchange.ts.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { nodeCrypto, nodeHttp, nodeNet } from '../util/builtins.ts';
import { AccessLog } from './accesslog.ts';
import { REPLAY_MAX_BYTES, ReplayCopy, streamBody } from './body.ts';
import {
  type GatewayH2Request,
  type GatewayH2Response,
  GatewayRequest,
  GatewayResponse,
  onResClose,
} from './client-messages.ts';
import type { UpstreamRequest } from './dispatcher.ts';
import { type DrainableServer, drain } from './drain.ts';
import { Exchange } from './exchange.ts';
import { checkH2RequestHead } from './h2-limits.ts';
import { H2Clients, type H2Host } from './h2-server.ts';
import { buildUpstreamHeaders } from './headers.ts';
import { HealthCheck } from './health-check.ts';
import { absoluteForm, checkRequestHead, maxHeaderSize, maxHeaders, rejectionBody } from './limits.ts';
import { Mirrors } from './mirror.ts';
import { answerPlain, type PlainAnswersHost } from './plain-answers.ts';
import { PlainFront } from './plain-front.ts';
import type { GatewaySettings, ListenerCounters, RouteTable, ServiceStats } from './protocol.ts';
import { writeRawResponse } from './raw-response.ts';
import { sendTo } from './send.ts';
import type { GatewayStats } from './stats.ts';
import { noRouteBody, Routing } from './table.ts';
import { TlsFront } from './tls-front.ts';
import { trustMatcher } from './trust.ts';
import { handleUpgrade, type UpgradeHost } from './upgrade.ts';
import type { RoutedService, ServiceTraffic, Upstream } from './upstream.ts';

export class Gateway implements UpgradeHost, H2Host, PlainAnswersHost {
  readonly settings: GatewaySettings;
  readonly logger: Logger;
  readonly bodyTooLargeBody: string;
  readonly server: http.Server<typeof GatewayRequest, typeof GatewayResponse>;
  readonly routing: Routing;
  readonly mirrors: Mirrors;
  /** Per-request JSON lines (null when `accessLog` is off). */
  readonly accessLog: AccessLog | null;
  draining = false;
  /**
   * Draining because a newer generation (or master) serves the same socket: what arrives on a connection
   * accepted before still has a working gateway behind it, unlike at a stop.
   */
  retiring = false;
  #idPrefix = `${nodeCrypto.randomBytes(4).toString('hex')}-`;
  #idCounter = 0;
  readonly makeRequestId = (): string => this.#idPrefix + (this.#idCounter++).toString(36);
  /** Peers allowed to set X-Forwarded-* (`trustedProxies`). */
  readonly trusted: (peer: string | undefined) => boolean;
  /**
   * Connections on which a request was rejected as malformed: answered with `Connection: close`, and
   * nothing else parsed from them (pipelined requests behind a bad one) is ever proxied.
   */
  readonly rejected = new WeakSet<net.Socket>();
  /** `Strict-Transport-Security` for HTTPS responses (`tls.hsts`), or null. */
  readonly hsts: string | null;
  /** ACME HTTP-01 tokens -> key authorizations (the master publishes them). */
  challenges = new Map<string, string>();
  readonly redirectHttp: boolean;
  /** HTTP/2 clients (TLS with ALPN h2, and h2c when cleartext is on); null when neither is configured. */
  readonly h2: H2Clients | null;
  /** The HTTPS listener (`tls`), or null. */
  readonly tlsFront: TlsFront | null;
  /** Sorts h2c from HTTP/1 on the plain listener (`http2.cleartext`), or null: the HTTP/1 server listens itself. */
  readonly plainFront: PlainFront | null;
  /** The load balancer's health check (`gateway.health`). */
  readonly health: HealthCheck;
  connectionIdle: ((socket: net.Socket) => void) | null = null;
  #shutdown: Promise<void> | null = null;

  constructor(settings: GatewaySettings, logger: Logger) {
    this.settings = settings;
    this.logger = logger;
    this.bodyTooLargeBody = `cutover: request body larger than ${settings.maxBodyBytes} bytes\n`;
    this.accessLog = AccessLog.fromSettings(settings, logger);
    this.trusted = trustMatcher(settings.trustedProxies);
    const hstsSeconds = settings.tls?.hstsSeconds;
    this.hsts = hstsSeconds === undefined ? null : `max-age=${hstsSeconds}`;
    this.redirectHttp = settings.tls?.redirectHttp === true;
    this.routing = new Routing(settings, logger);
    this.mirrors = new Mirrors(this);
    this.health = new HealthCheck(settings);
    const server = nodeHttp.createServer<typeof GatewayRequest, typeof GatewayResponse>(
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
        // A head without Content-Length or Transfer-Encoding has no body (RFC 9112 6.3): Node then skips
        // the request stream's readable life cycle ('end', 'close', five process.nextTick per request).
        // Nothing reads such a request's stream: the body stages only run with a length or chunked.
        optimizeEmptyRequests: true,
      },
      (req, res) => this.handleRequest(req, res),
    );
    server.keepAliveTimeout = settings.clientIdleTimeoutMs;
    // Node silently drops fields beyond maxHeadersCount; keep one more than allowed so checkRequestHead sees it.
    server.maxHeadersCount = maxHeaders(settings) + 1;
    server.headersTimeout = settings.requestHeadTimeoutMs;
    server.on('upgrade', (req: GatewayRequest, socket: net.Socket, head: Buffer) =>
      handleUpgrade(this, req, socket, head),
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) =>
      this.#clientError(err, socket),
    );
    // CONNECT (tunnels) is not something a reverse proxy offers.
    server.on('connect', (req: GatewayRequest, socket: net.Socket) => {
      socket.on('error', noop);
      this.rejected.add(socket);
      writeRawResponse(socket, 400, 'Bad Request', 'cutover: CONNECT is not supported\n', undefined);
      req.destroy();
    });
    this.server = server;
    const cleartext = settings.http2?.cleartext === true;
    // Only a worker that can meet an HTTP/2 client loads node:http2 for it (builtins.ts).
    const h2 = settings.tls !== undefined || cleartext ? new H2Clients(this) : null;
    this.h2 = h2;
    this.tlsFront =
      settings.tls === undefined || h2 === null ? null : new TlsFront(settings.tls, server, h2, logger);
    this.plainFront =
      cleartext && h2 !== null ? new PlainFront(server, h2, settings.requestHeadTimeoutMs) : null;
  }

  /** A head Node's parser refused (or a timeout): answered once with `Connection: close`. */
  #clientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
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
  }

  // ---- the per-request path ----------------------------------------------------------------------------

  handleRequest(req: GatewayRequest, res: GatewayResponse): void {
    const ex = new Exchange(this, req, res, false);
    res.exchange = ex;
    res.sendDate = false;
    res.on('close', onResClose);
    const socket = req.socket;
    const peer = socket.remoteAddress;
    if (this.rejected.has(socket)) {
      // Pipelined behind a rejected request: its framing cannot be trusted.
      res.destroy();
      ex.finish();
      return;
    }
    ex.tls = (socket as TLSSocket).encrypted === true;
    const headers = this.#upstreamHeaders(ex, peer);
    const path = this.#admit(ex);
    if (path === null) return;
    if (this.health.answer(ex, path)) return;
    if (this.#answeredPlain(ex, path)) return;
    this.#route(ex, path, headers);
  }

  /** A request from an HTTP/2 client: the same path once its head is checked (h2-limits.ts). */
  handleH2Request(
    req: GatewayH2Request,
    res: GatewayH2Response,
    peer: string | undefined,
    tls: boolean,
  ): void {
    const ex = new Exchange(this, req, res, true);
    res.exchange = ex;
    res.on('close', onResClose);
    ex.tls = tls;
    const headers = this.#upstreamHeaders(ex, peer);
    const rejection = checkH2RequestHead(req, this.settings);
    if (rejection !== null) {
      ex.sendError(rejection.status, rejectionBody(rejection), false);
      return;
    }
    // A body of unknown length (no content-length, not ended with the head) streams like a chunked one.
    if (ex.contentLength === undefined && !req.stream.endAfterHeaders) ex.chunked = true;
    const path = req.url;
    if (this.health.answer(ex, path)) return;
    if (this.#answeredPlain(ex, path)) return;
    this.#route(ex, path, headers);
  }

  #upstreamHeaders(ex: Exchange, peer: string | undefined): string[] {
    const scheme = ex.tls ? 'https' : 'http';
    return buildUpstreamHeaders(ex.req.rawHeaders, peer, ex, this.makeRequestId, this.trusted(peer), scheme);
  }

  /** With `tls`, the plain listener answers ACME challenges and redirects itself (plain-answers.ts). */
  #answeredPlain(ex: Exchange, path: string): boolean {
    return !ex.tls && this.settings.tls !== undefined && answerPlain(this, ex, path);
  }

  /** Routing, body framing, the instance, dispatch: shared by HTTP/1 and HTTP/2 clients. */
  #route(ex: Exchange, path: string, headers: string[]): void {
    const service = this.routing.router.match(ex.host, path);
    if (service === undefined) {
      ex.sendError(404, noRouteBody(ex.host, path), false);
      return;
    }
    ex.service = service;
    if (!this.#frameBody(ex, path, headers)) return;
    const up = this.#choose(ex, service, path, headers);
    if (up !== null) sendTo(this.routing, ex, service, up);
  }

  /** The head passes the hostile-input checks and its target is understood: its path, or null (answered). */
  #admit(ex: Exchange): string | null {
    const req = ex.req as GatewayRequest;
    const rejection = checkRequestHead(req, this.settings, false);
    if (rejection !== null) {
      this.rejected.add(req.socket);
      ex.sendError(rejection.status, rejectionBody(rejection), true);
      return null;
    }
    const target = ex.req.url!;
    if (target.charCodeAt(0) === 47 /* / */) return target;
    const abs = absoluteForm(target);
    if (abs === null) {
      ex.sendError(400, 'cutover: unsupported request target\n', false);
      return null;
    }
    ex.host = abs.host;
    return abs.path;
  }

  /** The body as it goes upstream (a declared length over the limit is answered 413 here: false). */
  #frameBody(ex: Exchange, path: string, headers: string[]): boolean {
    const declared = ex.contentLength !== undefined && !ex.chunked;
    if (declared && Number(ex.contentLength) > this.settings.maxBodyBytes) {
      ex.sendError(413, this.bodyTooLargeBody, true);
      return false;
    }
    ex.hasBody = declared ? Number(ex.contentLength) > 0 : ex.chunked;
    // An HTTP/2 instance may refuse a stream it never processed: a small body is kept to replay it then.
    if (ex.hasBody && ex.service!.protocol !== 'http') ex.replay = new ReplayCopy(REPLAY_MAX_BYTES);
    let body: UpstreamRequest['body'] = null;
    if (ex.hasBody) body = declared && ex.replay === null ? ex.req : streamBody(ex, ex.replay);
    // TE is hop-by-hop, but over HTTP/2 `TE: trailers` is how a gRPC client says it reads trailers.
    if (ex.teTrailers && ex.service!.protocol !== 'http') headers.push('te', 'trailers');
    ex.opts = { method: ex.req.method!, path, headers, body, headersTimeout: ex.service!.requestTimeoutMs };
    return true;
  }

  /** The instance that serves the request (by traffic role when the service has `traffic`), or null (503). */
  #choose(ex: Exchange, service: RoutedService, path: string, headers: string[]): Upstream | null {
    const traffic = service.traffic;
    if (traffic === null) {
      const up = service.pickIn(service, ex.req, path);
      if (up === null) ex.sendError(503, service.noInstanceBody, false);
      return up;
    }
    const role = traffic.decide(ex.req.headers, path);
    const group = service.groupFor(role);
    const up = group === null ? null : service.pickIn(group, ex.req, path);
    if (up === null) {
      ex.sendError(503, role === 'preview' ? service.noPreviewBody : service.noInstanceBody, false);
      return null;
    }
    ex.role = role;
    if (group === traffic.stable && traffic.mirror !== null) this.#mirror(ex, traffic, path, headers);
    return up;
  }

  /** A sampled request served by stable also goes to canary: its body is then copied as it streams. */
  #mirror(ex: Exchange, traffic: ServiceTraffic, path: string, headers: string[]): void {
    const opts = ex.opts!;
    const declared = ex.chunked ? undefined : ex.contentLength;
    const plan = this.mirrors.sample(traffic, opts.method, path, headers, ex.hasBody, declared);
    if (plan === null) return;
    ex.mirror = plan;
    if (ex.replay !== null) ex.replay.next = plan;
    opts.body = streamBody(ex, ex.replay ?? plan);
  }

  // ---- the route table, and what the master and the relays ask of it -----------------------------------

  applyTable(table: RouteTable): void {
    this.routing.apply(table);
    this.health.routesVersion = table.version;
  }
  get instances(): Map<string, Upstream> {
    return this.routing.instances;
  }
  get retired(): Set<Upstream> {
    return this.routing.retired;
  }
  get stats(): GatewayStats {
    return this.routing.stats;
  }
  get mirrorsInFlight(): number {
    return this.mirrors.inFlight;
  }
  statsReport(): Record<string, ServiceStats> {
    return this.routing.statsReport();
  }
  inflight(): Record<string, number> {
    return this.routing.inflight();
  }
  totalInflight(): number {
    return this.routing.totalInflight();
  }
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
    this.routing.connectFailed(up, err);
  }
  connectSucceeded(up: Upstream): void {
    this.routing.connectSucceeded(up);
  }
  release(up: Upstream): void {
    this.routing.release(up);
  }
  currentService(service: RoutedService): RoutedService {
    return this.routing.current(service);
  }

  // ---- lifetime -----------------------------------------------------------------------------------------

  listen(handle: unknown): Promise<void> {
    if (this.plainFront !== null) return this.plainFront.listen(handle);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(handle as net.Server, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  listenerCounters(): ListenerCounters {
    const tls = this.tlsFront?.counters;
    return {
      tlsHandshakes: tls?.handshakes ?? 0,
      tlsHandshakeErrors: tls?.handshakeErrors ?? 0,
      plainHttpOnTls: tls?.plainHttp ?? 0,
      h2SessionsOpened: this.h2?.opened ?? 0,
      h2Sessions: this.h2?.sessions ?? 0,
      healthChecks: this.health.answered,
    };
  }

  tlsPort(): number {
    return this.tlsFront?.port ?? 0;
  }

  /** Serves the shared HTTPS listening handle (only with `tls`). */
  listenTls(handle: unknown): Promise<void> {
    if (this.tlsFront === null) return Promise.reject(new Error('no tls settings for a TLS listener'));
    return this.tlsFront.listen(handle);
  }

  /** Stops accepting on every listener (other processes holding the handles keep accepting). */
  stopAccepting(): void {
    if (this.plainFront !== null) this.plainFront.stopAccepting();
    else nodeNet.Server.prototype.close.call(this.server);
    this.tlsFront?.stopAccepting();
  }

  /** Drains once (see drain.ts); every later call gets the same promise. */
  shutdown(timeoutMs: number): Promise<void> {
    if (this.#shutdown === null) {
      this.draining = true;
      this.#shutdown = drain(this.#drainable(), this.routing, this.accessLog, this.logger, timeoutMs);
    }
    return this.#shutdown;
  }

  /** Every client connection of this worker as one drainable server: HTTP/1 (plain and TLS) and HTTP/2. */
  #drainable(): DrainableServer {
    return {
      close: (cb: () => void) => {
        this.tlsFront?.stopAccepting();
        // GOAWAY: HTTP/2 clients finish their streams here and open new ones elsewhere.
        this.h2?.goAway();
        if (this.plainFront === null) this.server.close(cb);
        else {
          this.plainFront.stopAccepting();
          cb();
        }
      },
      closeIdleConnections: () => {
        this.server.closeIdleConnections();
        this.h2?.closeIdle();
      },
      closeAllConnections: () => {
        this.server.closeAllConnections();
        this.h2?.destroyAll();
      },
      idle: () => (this.h2?.sessions ?? 0) === 0,
    };
  }
}

function noop(): void {}
