/**
 * The HTTPS listener of one worker: TLS 1.2/1.3 with a modern cipher list, the certificate chosen by SNI
 * (exact name, then `*.` wildcard, then the default), ALPN `h2` or `http/1.1`, each connection handed to
 * the HTTP/2 clients or to the same HTTP/1 server the plain listener feeds. Certificates arrive as PEM
 * from the master (never read from files here) and are swapped without closing anything: a new handshake
 * uses the new set at once, established connections keep theirs.
 *
 * The first byte of each connection is looked at before TLS starts: plain HTTP sent to this port gets a
 * clear 400 instead of a TLS alert it cannot read.
 */

import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { nodeNet, nodeTls } from '../util/builtins.ts';
import type { ConnectionCap } from './connection-cap.ts';
import type { H2Clients } from './h2-server.ts';
import type { CertificateMaterial, TlsSettings } from './protocol.ts';
import { SniContexts } from './sni-contexts.ts';
import { TLS12_CIPHERS } from './tls-ciphers.ts';

/** First byte of a TLS record carrying a handshake. */
const TLS_HANDSHAKE_RECORD = 0x16;
const PLAIN_HTTP_ANSWER =
  'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n' +
  'content-length: 52\r\n\r\ncutover: this port speaks HTTPS; use https:// here\n';

/** Counters a worker reports about its TLS listener. */
export interface TlsCounters {
  handshakes: number;
  handshakeErrors: number;
  plainHttp: number;
}

export class TlsFront {
  readonly contexts: SniContexts;
  readonly counters: TlsCounters = { handshakes: 0, handshakeErrors: 0, plainHttp: 0 };
  readonly #server: tls.Server;
  readonly #front: net.Server;
  readonly #logger: Logger;
  readonly #handshakeTimeoutMs: number;
  /** Connections accepted whose TLS handshake has not finished (a retiring worker waits for them). */
  readonly #handshaking = new Set<net.Socket>();
  /** `gateway.maxConnections` (this worker's share), set by the worker. */
  cap: ConnectionCap | null = null;

  /** `h1` gets TLS connections that chose HTTP/1.1 (or no ALPN); `h2` the ones that chose h2. */
  constructor(settings: TlsSettings, h1: net.Server, h2: H2Clients, logger: Logger) {
    this.#logger = logger;
    this.#handshakeTimeoutMs = settings.handshakeTimeoutMs;
    this.contexts = new SniContexts(logger);
    this.#server = nodeTls().createServer({
      SNICallback: (name, cb) => this.contexts.select(name, cb),
      ALPNProtocols: ['h2', 'http/1.1'],
      minVersion: 'TLSv1.2',
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
      handshakeTimeout: settings.handshakeTimeoutMs,
    });
    this.#server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.counters.handshakes++;
      const raw = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent;
      if (raw !== undefined) this.#handshaking.delete(raw);
      if (socket.alpnProtocol === 'h2') h2.acceptTls(socket);
      else h1.emit('connection', socket);
    });
    // Asked only by clients that send status_request; `certificate` is the one SNI chose.
    this.#server.on(
      'OCSPRequest',
      (certificate: Buffer, _issuer: Buffer, cb: (err: Error | null, resp?: Buffer) => void) =>
        cb(null, this.contexts.ocspFor(certificate)),
    );
    this.#server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      this.counters.handshakeErrors++;
      this.#logger.debug('tls handshake failed', {
        error: err.message,
        code: err.code,
        peer: socket.remoteAddress,
      });
      socket.destroy();
    });
    this.#front = nodeNet.createServer({ pauseOnConnect: false }, (socket) => {
      if (this.cap === null || this.cap.admit(socket)) this.#sniff(socket);
    });
  }

  /** The port the listener is on (0 before it listens). */
  get port(): number {
    const a = this.#front.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  setCertificates(certs: CertificateMaterial[]): void {
    this.contexts.set(certs);
    // A client that sends no server name (an IP address in the URL) never reaches the SNI callback:
    // it gets the server's own context, which is the default certificate.
    const def = certs[0];
    if (def !== undefined) {
      try {
        this.#server.setSecureContext({
          cert: def.certPem,
          key: def.keyPem,
          minVersion: 'TLSv1.2',
          ciphers: TLS12_CIPHERS,
          honorCipherOrder: true,
        });
      } catch (err) {
        this.#logger.error('default certificate refused by the TLS library', {
          error: (err as Error).message,
        });
      }
    }
  }

  /** Serves the shared TLS listening handle. */
  listen(handle: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#front.once('error', reject);
      this.#front.listen(handle as net.Server, () => {
        this.#front.off('error', reject);
        resolve();
      });
    });
  }

  /** Stop accepting (the handle stays open in the other processes that hold it). */
  stopAccepting(): void {
    nodeNet.Server.prototype.close.call(this.#front);
  }

  /** Handshakes in progress (counted from the first byte's wait). */
  get handshaking(): number {
    return this.#handshaking.size;
  }

  #sniff(socket: net.Socket): void {
    this.#handshaking.add(socket);
    socket.once('close', () => this.#handshaking.delete(socket));
    socket.on('error', noop);
    // Before the handshake starts there is no TLS timeout yet: a silent client is dropped after the same time.
    socket.setTimeout(this.#handshakeTimeoutMs, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      if (first[0] === TLS_HANDSHAKE_RECORD) {
        socket.pause();
        socket.unshift(first);
        socket.off('error', noop);
        // tls.TLSSocket feeds what is already buffered on the socket into the handshake.
        this.#server.emit('connection', socket);
        return;
      }
      this.counters.plainHttp++;
      this.#logger.debug('plain HTTP on the TLS listener', { peer: socket.remoteAddress });
      socket.end(PLAIN_HTTP_ANSWER);
    });
  }
}

function noop(): void {}
