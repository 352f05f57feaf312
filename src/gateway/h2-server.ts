/**
 * HTTP/2 clients of one worker: TLS connections that negotiated `h2` by ALPN, and h2c connections (prior
 * knowledge) on the plain listener when `gateway.http2.cleartext` is on. Every stream becomes an Exchange
 * through the same path as HTTP/1 (server.ts). Sessions are tracked so a drain can send GOAWAY (open
 * streams finish, new ones go elsewhere) instead of resetting anything.
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { nodeHttp2 } from '../util/builtins.ts';
import { type GatewayH2Request, type GatewayH2Response, h2MessageClasses } from './client-messages.ts';
import { ControlFrameBudget } from './h2-flood.ts';
import { maxHeaderSize, maxHeaders } from './limits.ts';
import type { GatewaySettings } from './protocol.ts';

/** What the HTTP/2 side needs of its worker's gateway. */
export interface H2Host {
  readonly settings: GatewaySettings;
  readonly logger: Logger;
  handleH2Request(
    req: GatewayH2Request,
    res: GatewayH2Response,
    peer: string | undefined,
    tls: boolean,
  ): void;
}

/** Pseudo-header fields a request carries besides its regular ones (:method, :scheme, :authority, :path). */
const PSEUDO_HEADERS = 4;
/** Default HTTP/2 concurrent streams per client connection when the settings have none. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 128;
/**
 * Client stream resets (RST_STREAM) per connection in a burst, and per second after it: past them nghttp2
 * ends the connection (rapid reset, CVE-2023-44487). Node's own defaults, set here so an upgrade that
 * changes them does not change the gateway unnoticed.
 */
export const STREAM_RESET_BURST = 1000;
export const STREAM_RESET_RATE = 33;
/**
 * A connection being closed (idle, or over its control-frame budget) whose client does not read the
 * GOAWAY is cut after this long: a graceful close waits for its frames to be written, forever if need be.
 */
export const CLOSE_GRACE_MS = 1000;

interface SessionInfo {
  peer: string | undefined;
  tls: boolean;
  /** Streams open now (node:http2 does not expose the count). */
  streams: number;
  /** The connection itself (session.socket is a proxy that refuses destroy()). */
  socket: Duplex | undefined;
}

export class H2Clients {
  readonly server: http2.Http2Server<
    typeof http.IncomingMessage,
    typeof http.ServerResponse,
    typeof http2.Http2ServerRequest,
    typeof http2.Http2ServerResponse
  >;
  readonly #host: H2Host;
  readonly #sessions = new Map<http2.ServerHttp2Session, SessionInfo>();
  /** Peer address of the h2c connection being handed over now (its socket is a stream wrapper). */
  #handoverPeer: string | undefined = undefined;
  /** The connection being handed to node:http2 now: its 'session' event comes synchronously. */
  #handoverSocket: Duplex | undefined = undefined;
  #closing = false;

  constructor(host: H2Host) {
    this.#host = host;
    const s = host.settings;
    const classes = h2MessageClasses();
    this.server = nodeHttp2().createServer({
      Http2ServerRequest: classes.Request,
      Http2ServerResponse: classes.Response,
      maxHeaderListPairs: maxHeaders(s) + PSEUDO_HEADERS + 1,
      streamResetBurst: STREAM_RESET_BURST,
      streamResetRate: STREAM_RESET_RATE,
      settings: {
        maxConcurrentStreams: s.http2?.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: maxHeaderSize(s),
        enablePush: false,
      },
    });
    this.server.on('session', (session: http2.ServerHttp2Session) => this.#onSession(session));
    const onRequest = (req: GatewayH2Request, res: GatewayH2Response): void => {
      const info = this.#sessions.get(req.stream.session as http2.ServerHttp2Session);
      this.#host.handleH2Request(req, res, info?.peer, info?.tls ?? false);
    };
    this.server.on('request', onRequest);
    // node:http2 answers CONNECT with its own bare 405 unless 'connect' is listened to: take it through the
    // same head checks as every request, so it gets the gateway's 400 like on HTTP/1.
    this.server.on('connect', onRequest);
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Sessions opened since the worker started. */
  opened = 0;

  /** A TLS connection that negotiated h2. */
  acceptTls(socket: TLSSocket): void {
    this.#handoverSocket = socket;
    try {
      this.server.emit('connection', socket);
    } finally {
      this.#handoverSocket = undefined;
    }
  }

  /** An h2c connection (its first bytes are already read, so it arrives as a stream wrapper). */
  acceptCleartext(stream: Duplex, peer: string | undefined): void {
    this.#handoverPeer = peer;
    this.#handoverSocket = stream;
    try {
      this.server.emit('connection', stream);
    } finally {
      this.#handoverPeer = undefined;
      this.#handoverSocket = undefined;
    }
  }

  #onSession(session: http2.ServerHttp2Session): void {
    const socket = session.socket as TLSSocket | undefined;
    const tls = socket?.encrypted === true;
    const peer = this.#handoverPeer ?? socket?.remoteAddress;
    this.opened++;
    const info: SessionInfo = { peer, tls, streams: 0, socket: this.#handoverSocket };
    this.#sessions.set(session, info);
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      info.streams++;
      stream.once('close', () => info.streams--);
    });
    session.on('error', (err: Error) =>
      this.#host.logger.debug('http2 session error', { error: err.message }),
    );
    session.once('close', () => this.#sessions.delete(session));
    const budget = new ControlFrameBudget();
    const overBudget = (): void => {
      if (budget.take() || session.destroyed) return;
      this.#host.logger.warn('http2 control frame flood: connection closed', { peer, tls });
      // The code goes in the GOAWAY; the error only reaches the session's 'error' listener (logged above).
      session.destroy(new Error('control frame flood'), nodeHttp2().constants.NGHTTP2_ENHANCE_YOUR_CALM);
      cutSoon(info.socket);
    };
    session.on('ping', overBudget);
    session.on('remoteSettings', overBudget);
    // An idle client connection is closed like an idle HTTP/1 keep-alive one (GOAWAY, then close).
    session.setTimeout(this.#host.settings.clientIdleTimeoutMs, () => {
      session.close();
      if (info.streams === 0) cutSoon(info.socket);
    });
    if (this.#closing) session.close();
  }

  /** GOAWAY to every client (graceful: open streams finish); new sessions get it at once. */
  goAway(): void {
    this.#closing = true;
    for (const session of this.#sessions.keys()) {
      if (session.closed || noticed.has(session)) continue;
      noticed.add(session);
      shutdownGracefully(session);
    }
  }

  /** Sessions with no open stream are closed now (used by the drain sweep). */
  closeIdle(): void {
    for (const [session, info] of this.#sessions) {
      // A session in its shutdown notice closes itself once the PING is back (see shutdownGracefully).
      if (info.streams === 0 && !session.closed && !noticed.has(session)) session.close();
    }
  }

  destroyAll(): void {
    for (const session of this.#sessions.keys()) session.destroy();
  }
}

/** Sessions sent the shutdown notice (their final GOAWAY follows the PING round trip). */
const noticed = new WeakSet<http2.ServerHttp2Session>();

/** Longest wait for the PING that follows a shutdown notice before the final GOAWAY is sent anyway. */
const GOAWAY_NOTICE_MAX_MS = 1000;
/** The highest stream id: a GOAWAY naming it refuses nothing, it only says "no new streams, please". */
const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * Two GOAWAYs, as RFC 9113 6.8 suggests: first a notice that refuses nothing, then, once a PING has made
 * the round trip (every stream the client opened before it saw the notice has arrived), the final one
 * with the real last stream id. A single GOAWAY would refuse the streams already on the wire.
 */
function shutdownGracefully(session: http2.ServerHttp2Session): void {
  try {
    session.goaway(nodeHttp2().constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
  } catch {
    session.close();
    return;
  }
  let done = false;
  const close = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (!session.closed && !session.destroyed) session.close();
  };
  const timer = setTimeout(close, GOAWAY_NOTICE_MAX_MS);
  timer.unref();
  if (!session.ping(close)) close();
}

/** The connection goes in CLOSE_GRACE_MS whatever happens to the frames still queued for it. */
function cutSoon(socket: Duplex | undefined): void {
  if (socket === undefined) return;
  setTimeout(() => {
    if (!socket.destroyed) socket.destroy();
  }, CLOSE_GRACE_MS).unref();
}
