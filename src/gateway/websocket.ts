/**
 * WebSocket relay: a raw TCP tunnel after the upstream's 101, plus just enough framing knowledge (frame
 * headers and lengths, both directions) to close a relayed connection cleanly at a frame boundary with
 * 1001 Going Away when its instance is retired or the gateway shuts down.
 */
import type net from 'node:net';
import type { Logger } from '../log/logger.ts';
import { nodeNet } from '../util/builtins.ts';
import type { UpstreamRole } from './protocol.ts';
import { writeRawResponse } from './raw-response.ts';
import type { Closable, RoutedService, Upstream } from './upstream.ts';
import { closeFrame, FrameScanner, OPCODE_CLOSE } from './ws-frame.ts';

/** Time the peers get to finish the close handshake before the gateway ends both TCP connections. */
export const CLOSE_GRACE_MS = 1000;

export interface RelayHost {
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly retries: number;
  connectFailed(up: Upstream, err: Error): void;
  connectSucceeded(up: Upstream): void;
  release(up: Upstream): void;
  currentService(service: RoutedService): RoutedService;
}

type State = 'connecting' | 'handshake' | 'open' | 'plain' | 'done';

/** One direction of an open WebSocket: forwards bytes and, once closing, swaps in a Close frame. */
class Direction {
  readonly scanner = new FrameScanner();
  /** A Close frame reached `dst` (forwarded from src or injected by us). */
  closeDelivered = false;
  readonly relay: WsRelay;
  readonly src: net.Socket;
  readonly dst: net.Socket;
  /** dst is the upstream: frames we inject must be masked. */
  readonly toUpstream: boolean;

  constructor(relay: WsRelay, src: net.Socket, dst: net.Socket, toUpstream: boolean) {
    this.relay = relay;
    this.src = src;
    this.dst = dst;
    this.toUpstream = toUpstream;
  }

  forward(chunk: Buffer): void {
    if (chunk.length === 0 || this.dst.destroyed) return;
    if (!this.dst.write(chunk)) {
      this.src.pause();
      this.dst.once('drain', () => this.src.resume());
    }
  }

  handle(chunk: Buffer): void {
    const scanner = this.scanner;
    if (this.relay.closingReason === null) {
      let pos = 0;
      while (pos !== -1 && pos < chunk.length) pos = scanner.next(chunk, pos);
      this.forward(chunk);
      return;
    }
    let pos = 0;
    while (pos < chunk.length) {
      const b = scanner.next(chunk, pos);
      if (!this.closeDelivered) {
        if (b === -1) {
          this.forward(pos === 0 ? chunk : chunk.subarray(pos));
          return;
        }
        this.forward(chunk.subarray(pos, b));
        pos = b;
        if (scanner.lastOpcode === OPCODE_CLOSE) this.closeDelivered = true;
        else this.injectClose();
      } else {
        if (b === -1) return;
        pos = b;
        // src answered (or sent) a Close after dst got one: the handshake is done on src's side.
        if (scanner.lastOpcode === OPCODE_CLOSE) this.src.end();
      }
    }
  }

  injectClose(): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    if (!this.dst.destroyed)
      this.dst.write(closeFrame(1001, this.relay.closingReason ?? '', this.toUpstream));
  }
}

/** One relayed WebSocket connection (counted in flight on its instance until both sockets closed). */
export class WsRelay implements Closable {
  readonly host: RelayHost;
  service: RoutedService;
  upstream: Upstream;
  readonly client: net.Socket;
  up!: net.Socket;
  readonly requestHead: Buffer;
  readonly clientHead: Buffer;
  readonly requestId: string;
  /** The role the traffic policy chose (null without `traffic`); retries stay with it. */
  readonly role: UpstreamRole | null;
  state: State = 'connecting';
  closingReason: string | null = null;
  #headBuf: Buffer | null = null;
  #timer: NodeJS.Timeout | null = null;
  #attempts = 0;
  #tried: Upstream[] = [];
  #clientClosed = false;
  #upClosed = false;
  #toUp: Direction | null = null;
  #toClient: Direction | null = null;

  constructor(
    host: RelayHost,
    service: RoutedService,
    upstream: Upstream,
    client: net.Socket,
    requestHead: Buffer,
    clientHead: Buffer,
    requestId: string,
    role: UpstreamRole | null = null,
  ) {
    this.host = host;
    this.role = role;
    this.service = service;
    this.upstream = upstream;
    this.client = client;
    this.requestHead = requestHead;
    this.clientHead = clientHead;
    this.requestId = requestId;
    upstream.inflight++;
    upstream.relays.add(this);
    client.on('close', () => {
      this.#clientClosed = true;
      if (this.state === 'connecting' || this.state === 'handshake') this.up?.destroy();
      else if (this.up && !this.up.destroyed) {
        this.up.end();
        this.#destroyLater(this.up);
      }
      this.#maybeDone();
    });
    this.#connect();
  }

  #connect(): void {
    const up = nodeNet.connect({ host: this.upstream.host, port: this.upstream.port, noDelay: true });
    this.up = up;
    this.state = 'connecting';
    this.#timer = setTimeout(() => up.destroy(connectTimeoutError), this.host.connectTimeoutMs);
    up.once('connect', () => this.#onConnect());
    up.on('error', (err) => this.#onUpError(err));
    up.on('close', () => {
      if (up !== this.up) return;
      this.#upClosed = true;
      if (this.#timer) clearTimeout(this.#timer);
      if (!this.client.destroyed) {
        this.client.end();
        this.#destroyLater(this.client);
      }
      this.#maybeDone();
    });
  }

  #onConnect(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.host.connectSucceeded(this.upstream);
    const up = this.up;
    this.state = 'handshake';
    this.#timer = setTimeout(
      () => this.#fail(504, 'did not answer the WebSocket upgrade in time'),
      this.host.upstreamTimeoutMs,
    );
    up.write(this.requestHead);
    const toUp = new Direction(this, this.client, up, true);
    const toClient = new Direction(this, up, this.client, false);
    this.#toUp = toUp;
    this.#toClient = toClient;
    if (this.clientHead.length > 0) toUp.handle(this.clientHead);
    this.client.on('data', (chunk: Buffer) => {
      if (this.state === 'plain') toUp.forward(chunk);
      else toUp.handle(chunk);
    });
    this.client.on('end', () => {
      if (!up.destroyed) up.end();
    });
    up.on('data', (chunk: Buffer) => this.#onUpData(chunk));
    up.on('end', () => {
      if (!this.client.destroyed) this.client.end();
    });
    if (this.closingReason !== null) this.closeGoingAway(this.closingReason);
  }

  #onUpData(chunk: Buffer): void {
    const toClient = this.#toClient!;
    if (this.state === 'open') {
      toClient.handle(chunk);
      return;
    }
    if (this.state === 'plain') {
      toClient.forward(chunk);
      return;
    }
    // Handshake: find the end of the response head.
    const buf = this.#headBuf === null ? chunk : Buffer.concat([this.#headBuf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) {
      if (buf.length > 65536) this.#fail(502, 'sent an oversized upgrade response head');
      else this.#headBuf = buf;
      return;
    }
    this.#headBuf = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const headEnd = end + 4;
    // "HTTP/1.1 101 ..." -> status at bytes 9..11
    const is101 = buf.length > 12 && buf[9] === 0x31 && buf[10] === 0x30 && buf[11] === 0x31;
    toClient.forward(buf.subarray(0, headEnd));
    this.state = is101 ? 'open' : 'plain';
    if (headEnd < buf.length) {
      const rest = buf.subarray(headEnd);
      if (is101) toClient.handle(rest);
      else toClient.forward(rest);
    }
    if (this.closingReason !== null) this.closeGoingAway(this.closingReason);
  }

  #onUpError(err: Error): void {
    if (this.state === 'connecting') {
      if (this.#timer) clearTimeout(this.#timer);
      this.host.connectFailed(this.upstream, err);
      if (this.#retry()) return;
      this.#respond(502, `could not connect to any instance of service ${JSON.stringify(this.service.name)}`);
      return;
    }
    if (this.state === 'handshake') {
      this.#fail(502, 'failed before answering the WebSocket upgrade');
      return;
    }
    // Open: the 'close' handler ends the client side.
  }

  #retry(): boolean {
    if (this.#clientClosed || this.closingReason !== null || this.#attempts >= this.host.retries)
      return false;
    this.#tried.push(this.upstream);
    const service = this.host.currentService(this.service);
    const next = this.role === null ? service.pick(this.#tried) : service.pickFor(this.role, this.#tried);
    if (next === null) return false;
    this.#attempts++;
    this.service = service;
    const prev = this.upstream;
    this.upstream = next;
    prev.relays.delete(this);
    prev.inflight--;
    this.host.release(prev);
    next.inflight++;
    next.relays.add(this);
    this.#connect();
    return true;
  }

  #fail(status: number, what: string): void {
    this.#respond(status, `instance of service ${JSON.stringify(this.service.name)} ${what}`);
    this.up.destroy();
  }

  #respond(status: number, text: string): void {
    const body = `cutover: ${text}\n`;
    const reason =
      status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : 'Gateway Timeout';
    writeRawResponse(this.client, status, reason, body, this.requestId);
    this.state = 'done';
    this.#upClosed = true;
    this.#maybeDone();
  }

  /** False while a frame from the upstream is only partly relayed to the client. */
  get toClientAtBoundary(): boolean {
    return this.#toClient === null || this.#toClient.scanner.atBoundary;
  }

  /** Ends the connection with 1001 at the next frame boundary of each direction (never a bare reset). */
  closeGoingAway(reason: string): void {
    const first = this.closingReason === null;
    this.closingReason = reason;
    if (this.state === 'connecting' || this.state === 'handshake') return; // acted on once the handshake ends
    if (this.state === 'plain' || this.state === 'done') {
      if (!this.client.destroyed) this.client.end();
      if (this.up && !this.up.destroyed) this.up.end();
      return;
    }
    if (!first && this.#toClient!.closeDelivered && this.#toUp!.closeDelivered) return;
    if (this.#toClient!.scanner.atBoundary) this.#toClient!.injectClose();
    if (this.#toUp!.scanner.atBoundary) this.#toUp!.injectClose();
    if (first) {
      const t = setTimeout(() => {
        if (!this.client.destroyed) this.client.end();
        if (!this.up.destroyed) this.up.end();
        this.#destroyLater(this.client);
        this.#destroyLater(this.up);
      }, CLOSE_GRACE_MS);
      t.unref();
    }
  }

  /** Last resort (shutdown deadline): drop both connections. */
  destroy(): void {
    this.client.destroy();
    this.up?.destroy();
  }

  #destroyLater(s: net.Socket): void {
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
  }

  #maybeDone(): void {
    if (!(this.#clientClosed && (this.#upClosed || !this.up || this.up.destroyed))) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const up = this.upstream;
    if (!up.relays.delete(this)) return;
    up.inflight--;
    this.host.release(up);
  }
}

const connectTimeoutError = Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
