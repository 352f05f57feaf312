/**
 * HTTP/2 clients of one worker: TLS connections that negotiated `h2` by ALPN, and h2c connections (prior
 * knowledge) on the plain listener when `gateway.http2.cleartext` is on. Every stream becomes an Exchange
 * through the same path as HTTP/1 (server.ts). Sessions are tracked so a drain can send GOAWAY (open
 * streams finish, new ones go elsewhere) instead of resetting anything.
 */
import type http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { GatewayH2Request, GatewayH2Response } from './exchange.ts';
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

interface SessionInfo {
  peer: string | undefined;
  tls: boolean;
  /** Streams open now (node:http2 does not expose the count). */
  streams: number;
}

export class H2Clients {
  readonly server: http2.Http2Server<
    typeof http.IncomingMessage,
    typeof http.ServerResponse,
    typeof GatewayH2Request,
    typeof GatewayH2Response
  >;
  readonly #host: H2Host;
  readonly #sessions = new Map<http2.ServerHttp2Session, SessionInfo>();
  /** Peer address of the h2c connection being handed over now (its socket is a stream wrapper). */
  #handoverPeer: string | undefined = undefined;
  #closing = false;

  constructor(host: H2Host) {
    this.#host = host;
    const s = host.settings;
    this.server = http2.createServer({
      Http2ServerRequest: GatewayH2Request,
      Http2ServerResponse: GatewayH2Response,
      maxHeaderListPairs: maxHeaders(s) + PSEUDO_HEADERS + 1,
      settings: {
        maxConcurrentStreams: s.http2?.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: maxHeaderSize(s),
        enablePush: false,
      },
    });
    this.server.on('session', (session: http2.ServerHttp2Session) => this.#onSession(session));
    this.server.on('request', (req: GatewayH2Request, res: GatewayH2Response) => {
      const info = this.#sessions.get(req.stream.session as http2.ServerHttp2Session);
      this.#host.handleH2Request(req, res, info?.peer, info?.tls ?? false);
    });
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Sessions opened since the worker started. */
  opened = 0;

  /** A TLS connection that negotiated h2. */
  acceptTls(socket: TLSSocket): void {
    this.server.emit('connection', socket);
  }

  /** An h2c connection (its first bytes are already read, so it arrives as a stream wrapper). */
  acceptCleartext(stream: Duplex, peer: string | undefined): void {
    this.#handoverPeer = peer;
    try {
      this.server.emit('connection', stream);
    } finally {
      this.#handoverPeer = undefined;
    }
  }

  #onSession(session: http2.ServerHttp2Session): void {
    const socket = session.socket as TLSSocket | undefined;
    const tls = socket?.encrypted === true;
    const peer = this.#handoverPeer ?? socket?.remoteAddress;
    this.opened++;
    const info: SessionInfo = { peer, tls, streams: 0 };
    this.#sessions.set(session, info);
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      info.streams++;
      stream.once('close', () => info.streams--);
    });
    session.on('error', (err: Error) =>
      this.#host.logger.debug('http2 session error', { error: err.message }),
    );
    session.once('close', () => this.#sessions.delete(session));
    // An idle client connection is closed like an idle HTTP/1 keep-alive one (GOAWAY, then close).
    session.setTimeout(this.#host.settings.clientIdleTimeoutMs, () => session.close());
    if (this.#closing) session.close();
  }

  /** GOAWAY to every client (graceful: open streams finish); new sessions get it at once. */
  goAway(): void {
    this.#closing = true;
    for (const session of this.#sessions.keys()) if (!session.closed) session.close();
  }

  /** Sessions with no open stream are closed now (used by the drain sweep). */
  closeIdle(): void {
    for (const [session, info] of this.#sessions) {
      if (info.streams === 0 && !session.closed) session.close();
    }
  }

  destroyAll(): void {
    for (const session of this.#sessions.keys()) session.destroy();
  }
}
