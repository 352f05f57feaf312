/**
 * One HTTP/1.1 keep-alive connection to an instance, one request at a time (no pipelining).
 *
 * The response is parsed by the llhttp binding node:http itself uses (`HTTPParser`, strict: no lenient
 * flags), fed from `onread`: the socket reads into one buffer shared by every connection of the worker
 * and hands it over synchronously, so a read costs no stream machinery, no tick and no Buffer. The parser
 * copies body bytes out and gives header fields as latin1 strings, so the shared buffer is free again
 * when `execute` returns.
 *
 * Timers are per connection (refresh-timer.ts): a request costs no new timer.
 */
import type net from 'node:net';
import { nodeNet } from '../util/builtins.ts';
import {
  codedError,
  type DispatcherSettings,
  type UpstreamHandler,
  type UpstreamRequest,
} from './dispatcher.ts';
import { BodyPump } from './h1-body.ts';
import { isChunkedHead } from './h1-head.ts';
import { type Parser, responseParser } from './h1-parser.ts';
import { RefreshTimer } from './refresh-timer.ts';

const READ_BUFFER_BYTES = 64 * 1024;
/** Idle time before TCP keep-alive probes start on an upstream connection (undici's default too). */
const TCP_KEEPALIVE_DELAY_MS = 60_000;
/** Subtracted from an instance's `Keep-Alive: timeout=N` hint, so the gateway lets go first. */
const KEEP_ALIVE_HINT_MARGIN_MS = 1000;

/** Every connection of the worker reads into this buffer (see the header comment). */
const READ_BUFFER = Buffer.allocUnsafe(READ_BUFFER_BYTES);
const ABORTED = 'request aborted';

/** What a connection needs of its pool. */
export interface H1Pool {
  readonly host: string;
  readonly port: number;
  readonly settings: DispatcherSettings;
  /** The connection is up (or failed to come up): another may be opened. */
  connected(): void;
  connectFailed(err: Error): void;
  /** The connection can carry another request; `fresh`: it has not been idle yet. */
  released(conn: H1Connection, fresh: boolean): void;
  /** The connection is closed. */
  gone(conn: H1Connection): void;
}

export class H1Connection {
  readonly pool: H1Pool;
  readonly socket: net.Socket;
  readonly parser: Parser;
  connected = false;
  closed = false;
  /** The request in flight; null: idle (or not connected yet and nothing waiting). */
  handler: UpstreamHandler | null = null;
  #seq = 0;
  #opts: UpstreamRequest | null = null;
  #head = '';
  /** Fields flushed by the parser before the head completed (a long head), or trailers after the body. */
  #fields: string[] = [];
  #skipBody = false;
  #responded = false;
  #informational = false;
  #keepAlive = true;
  #requestSent = false;
  #paused = false;
  /** The instance ended its side: not reusable even before the socket is closed. */
  #eof = false;
  #socketError: Error | null = null;
  #body: BodyPump | null = null;
  #waitingHead = false;
  /** While onConnect runs: an abort then is a request withdrawn before any byte of it was written. */
  #withdrawable = false;
  #withdrawn: Error | null = null;
  readonly #headersTimer = new RefreshTimer(() => {
    if (this.#waitingHead && this.handler !== null) {
      this.#fail(codedError(`no response head within ${this.#headersTimer.ms}ms`, 'UND_ERR_HEADERS_TIMEOUT'));
    }
  });
  readonly #idleTimer = new RefreshTimer(() => {
    if (this.handler === null && this.connected) this.socket.destroy();
  });
  #idleMs: number;
  #bodyTimer: NodeJS.Timeout | null = null;
  /** The request's body inactivity bound once the response started (0: none). */
  #bodyTimeoutMs = 0;
  #connectTimer: NodeJS.Timeout | null;

  /** Connects, then writes `head` (built by the pool) for `handler`. */
  constructor(pool: H1Pool, opts: UpstreamRequest, head: string, handler: UpstreamHandler) {
    this.pool = pool;
    this.#idleMs = Math.max(1, pool.settings.upstreamIdleTimeoutMs);
    this.handler = handler;
    this.#opts = opts;
    this.#head = head;
    const parser = responseParser({
      fields: (fields) => {
        for (let i = 0; i < fields.length; i++) this.#fields.push(fields[i]);
      },
      head: (fields, status, statusText, upgrade, keepAlive) =>
        this.#onHead(fields, status, statusText, upgrade, keepAlive),
      body: (chunk) => this.#onBody(chunk),
      complete: () => this.#onComplete(),
    });
    this.parser = parser;
    const socket = nodeNet.connect({
      host: pool.host,
      port: pool.port,
      noDelay: true,
      // A long response (a stream) from a host that vanished is noticed by TCP keep-alive probes.
      keepAlive: true,
      keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS,
      onread: { buffer: READ_BUFFER, callback: (n: number) => this.#read(n) },
    });
    // Never what keeps a worker alive (like the HTTP/2 session): the worker ends itself, and its listener
    // holds it while it serves.
    socket.unref();
    this.socket = socket;
    const ms = pool.settings.connectTimeoutMs;
    this.#connectTimer = setTimeout(() => {
      socket.destroy(codedError(`connect timeout after ${ms}ms`, 'UND_ERR_CONNECT_TIMEOUT'));
    }, ms);
    socket.once('connect', () => this.#connected());
    socket.on('error', (err: Error) => {
      this.#socketError ??= err;
    });
    socket.on('end', () => this.#ended());
    socket.once('close', () => this.#closed());
  }

  /** Whether an idle connection can take a request (not closed or closing). */
  get reusable(): boolean {
    return !this.#eof && !this.closed && !this.socket.destroyed;
  }

  /**
   * Writes a request on this connection (idle: `reused`, or just connected and handed on). false: the
   * handler withdrew it in onConnect, before any byte was written; the connection is free again.
   */
  start(opts: UpstreamRequest, head: string, handler: UpstreamHandler, reused: boolean): boolean {
    this.handler = handler;
    return this.#write(opts, head, handler, reused);
  }

  /** Closes the connection; a request on it (or waiting for it to connect) fails with `err`. */
  destroy(err: Error): void {
    this.#socketError ??= err;
    if (this.connected) this.#fail(err);
    this.socket.destroy();
  }

  #connected(): void {
    this.connected = true;
    if (this.#connectTimer !== null) {
      clearTimeout(this.#connectTimer);
      this.#connectTimer = null;
    }
    const opts = this.#opts!;
    const handler = this.handler!;
    this.#opts = null;
    const head = this.#head;
    this.#head = '';
    if (!this.#write(opts, head, handler, false) && this.handler === null && this.reusable) this.#idle(true);
    // After this connection took its pick of the waiting requests.
    this.pool.connected();
  }

  #write(opts: UpstreamRequest, head: string, handler: UpstreamHandler, reused: boolean): boolean {
    const seq = ++this.#seq;
    this.#skipBody = opts.method === 'HEAD';
    this.#responded = false;
    this.#keepAlive = true;
    this.#requestSent = false;
    this.#withdrawable = true;
    handler.onConnect((err) => {
      if (this.#seq !== seq || this.handler !== handler) return;
      if (this.#withdrawable) this.#withdrawn = err ?? codedError(ABORTED, 'UND_ERR_ABORTED');
      else this.#fail(err ?? codedError(ABORTED, 'UND_ERR_ABORTED'));
    }, reused);
    this.#withdrawable = false;
    const withdrawn = this.#withdrawn;
    if (withdrawn !== null) {
      // Nothing was written: the connection is as clean as before, for the next request.
      this.#withdrawn = null;
      this.handler = null;
      handler.onError(withdrawn);
      return false;
    }
    if (this.handler !== handler) return true;
    this.#waitingHead = true;
    const headersTimeout = opts.headersTimeout ?? this.pool.settings.upstreamTimeoutMs;
    if (headersTimeout > 0) this.#headersTimer.arm(headersTimeout);
    const body = opts.body;
    const socket = this.socket;
    if (body === null) {
      socket.write(head, 'latin1');
      this.#requestSent = true;
    } else if (body instanceof Uint8Array) {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(body);
      socket.uncork();
      this.#requestSent = true;
    } else {
      socket.write(head, 'latin1');
      this.#body = new BodyPump(
        socket,
        body,
        isChunkedHead(head),
        () => {
          if (this.#seq === seq) this.#requestSent = true;
        },
        (err) => {
          if (this.#seq === seq) this.#fail(err);
        },
      );
    }
    this.#bodyTimeoutMs = opts.bodyTimeout ?? 0;
    return true;
  }

  #read(n: number): boolean {
    const ret = this.parser.execute(n === READ_BUFFER_BYTES ? READ_BUFFER : READ_BUFFER.subarray(0, n));
    if (typeof ret !== 'number') this.#parseError(ret);
    return !this.#paused;
  }

  #parseError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? 'HPE_INVALID';
    const reason = (err as Error & { reason?: string }).reason ?? err.message;
    if (this.handler !== null) this.#fail(codedError(`invalid response from the instance: ${reason}`, code));
    this.socket.destroy();
  }

  #onHead(
    fields: string[] | undefined,
    status: number,
    statusText: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const handler = this.handler;
    if (handler === null || this.#responded) {
      // Bytes nobody asked for (after a complete response, or before any request).
      this.socket.destroy();
      return 0;
    }
    let list = fields;
    if (list === undefined) {
      list = this.#fields;
      this.#fields = [];
    }
    if (upgrade || status === 101) {
      this.#fail(codedError(`instance switched protocols (${status}) unasked`, 'UND_ERR_SOCKET'));
      return 0;
    }
    if (status < 200) {
      // An interim response (100 Continue, 103 Early Hints): its message completes next, then the real one.
      this.#informational = true;
      return 1;
    }
    this.#responded = true;
    this.#waitingHead = false;
    this.#keepAlive = keepAlive;
    if (keepAlive) this.#idleMs = idleMsFor(list, this.pool.settings.upstreamIdleTimeoutMs);
    if (this.#bodyTimeoutMs > 0) this.#bodyTimer = this.#timer(this.#bodyTimeoutMs, 'UND_ERR_BODY_TIMEOUT');
    if (handler.onHeaders(status, list, this.#resume, statusText) === false) this.#paused = true;
    return this.#skipBody ? 1 : 0;
  }

  readonly #resume = (): void => {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.closed) this.socket.resume();
  };

  #onBody(chunk: Buffer): void {
    const handler = this.handler;
    if (handler === null) return;
    this.#bodyTimer?.refresh();
    if (handler.onData(chunk) === false) this.#paused = true;
  }

  #onComplete(): void {
    if (this.#informational) {
      this.#informational = false;
      return;
    }
    const handler = this.handler;
    if (handler === null) return;
    this.handler = null;
    this.#endRequest();
    const trailers = this.#fields.length > 0 ? this.#fields : null;
    if (trailers !== null) this.#fields = [];
    // The socket stays readable while idle, so an instance closing it is seen at once.
    this.#paused = false;
    const reusable = this.#keepAlive && this.#requestSent && !this.closed;
    if (!reusable) this.socket.destroy();
    handler.onComplete(trailers);
    if (reusable) this.#idle(false);
  }

  #idle(fresh: boolean): void {
    this.#idleTimer.arm(this.#idleMs);
    this.pool.released(this, fresh);
  }

  /** A one-off inactivity timer for this request (only mirror copies ask for a body timeout). */
  #timer(ms: number, code: string): NodeJS.Timeout {
    const seq = this.#seq;
    const t = setTimeout(() => {
      if (this.#seq === seq && this.handler !== null) this.#fail(codedError(`idle for ${ms}ms`, code));
    }, ms);
    t.unref();
    return t;
  }

  #endRequest(): void {
    this.#waitingHead = false;
    if (this.#bodyTimer !== null) {
      clearTimeout(this.#bodyTimer);
      this.#bodyTimer = null;
    }
    if (this.#body !== null) {
      this.#body.stop();
      this.#body = null;
    }
  }

  /** The request fails; the connection cannot be trusted with another one. */
  #fail(err: Error): void {
    const handler = this.handler;
    if (handler === null) return;
    this.handler = null;
    this.#endRequest();
    this.socket.destroy();
    handler.onError(err);
  }

  #ended(): void {
    this.#eof = true;
    // Read-until-close bodies complete here; anything else still open was cut short.
    if (this.handler !== null && this.#responded) {
      const ret = this.parser.finish();
      if (ret instanceof Error) this.#fail(codedError('other side closed mid-response', 'UND_ERR_SOCKET'));
    }
    if (this.handler !== null && this.connected)
      this.#fail(codedError('other side closed', 'UND_ERR_SOCKET'));
  }

  #closed(): void {
    this.closed = true;
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#headersTimer.clear();
    this.#idleTimer.clear();
    const handler = this.handler;
    if (handler !== null && this.connected) {
      this.#fail(this.#socketError ?? codedError('other side closed', 'UND_ERR_SOCKET'));
    } else if (!this.connected) {
      // Never connected: the request was not written, so it may go to another instance.
      const err = this.#socketError ?? codedError('connection closed before it was ready', 'ECONNRESET');
      this.handler = null;
      handler?.onError(err);
      this.pool.connectFailed(err);
    }
    this.parser.close();
    this.pool.gone(this);
  }
}

/** The idle time of a connection: the gateway's, or less when the instance's Keep-Alive hint says so. */
export function idleMsFor(list: readonly string[], configured: number): number {
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i];
    if (name.length !== 10 || name.toLowerCase() !== 'keep-alive') continue;
    const m = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(list[i + 1]);
    if (m === null) break;
    const hinted = Number(m[1]) * 1000 - KEEP_ALIVE_HINT_MARGIN_MS;
    return Math.max(1, Math.min(configured, hinted));
  }
  return Math.max(1, configured);
}
