/**
 * HTTP/2 cleartext (prior knowledge) to one instance: one multiplexed node:http2 session at a time, with the
 * same dispatch-handler contract as the HTTP/1.1 pool (dispatcher.ts).
 *
 * Why not undici's `Client({ allowH2: true })`: when a response is paused for backpressure, undici reports
 * the trailers (and completes the request) as soon as the trailers frame arrives, and drops the DATA still
 * buffered in the paused stream: a slow gRPC stream consumer would lose its last messages. Here the request
 * completes on the stream's 'end', after every buffered chunk has been delivered.
 */
import type http2 from 'node:http2';
import { nodeHttp2, nodeStream } from '../util/builtins.ts';
import {
  codedError,
  type DispatcherSettings,
  type UpstreamDispatcher,
  type UpstreamHandler,
  type UpstreamRequest,
} from './dispatcher.ts';

/** NGHTTP2_REFUSED_STREAM, error code 7 of RFC 9113 section 7 (a literal: node:http2 loads on first use). */
const REFUSED_STREAM = 7;

/** Fields that never go on an HTTP/2 request (RFC 9113 8.2.2), besides `host` which becomes :authority. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** A request waiting for the session to connect. */
interface Queued {
  opts: UpstreamRequest;
  handler: UpstreamHandler;
}

export class H2Upstream implements UpstreamDispatcher {
  readonly origin: string;
  readonly settings: DispatcherSettings;
  #session: http2.ClientHttp2Session | null = null;
  #connected = false;
  #queue: Queued[] = [];
  #connectTimer: NodeJS.Timeout | null = null;
  /** Open streams of every session (the current one and those going away). */
  #sessions = new Map<http2.ClientHttp2Session, number>();
  #closed = false;
  #closeWaiters: Array<() => void> = [];

  constructor(address: string, settings: DispatcherSettings) {
    this.origin = `http://${address}`;
    this.settings = settings;
  }

  dispatch(opts: UpstreamRequest, handler: UpstreamHandler): boolean {
    if (this.#closed) {
      handler.onError(codedError('upstream dispatcher is closed', 'UND_ERR_CLOSED'));
      return false;
    }
    const session = this.#session ?? this.#connect();
    if (!this.#connected) this.#queue.push({ opts, handler });
    else this.#start(session, opts, handler, false);
    return true;
  }

  /** No new requests; resolves when the streams in flight have ended. */
  close(): Promise<void> {
    this.#closed = true;
    if (!this.#connected) this.#failQueue(codedError('upstream dispatcher is closed', 'UND_ERR_CLOSED'));
    for (const s of this.#sessions.keys()) s.close();
    this.#session = null;
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  /** Every stream fails now. */
  destroy(): Promise<void> {
    this.#closed = true;
    this.#failQueue(codedError('upstream dispatcher destroyed', 'UND_ERR_DESTROYED'));
    for (const s of this.#sessions.keys()) s.destroy();
    this.#session = null;
    return this.close();
  }

  #connect(): http2.ClientHttp2Session {
    const session = nodeHttp2().connect(this.origin, { settings: { enablePush: false } });
    this.#session = session;
    this.#connected = false;
    this.#sessions.set(session, 0);
    this.#connectTimer = setTimeout(() => {
      session.destroy(
        codedError(`connect timeout after ${this.settings.connectTimeoutMs}ms`, 'UND_ERR_CONNECT_TIMEOUT'),
      );
    }, this.settings.connectTimeoutMs);
    session.once('connect', () => {
      this.#clearConnectTimer();
      if (this.#session !== session) return;
      this.#connected = true;
      const queue = this.#queue;
      this.#queue = [];
      let fresh = true;
      for (const q of queue) {
        this.#start(session, q.opts, q.handler, fresh);
        fresh = false;
      }
    });
    session.on('error', (err: Error) => {
      if (this.#session === session && !this.#connected) this.#failQueue(err);
    });
    // GOAWAY: streams already open finish on this session; new ones open a new session.
    session.on('goaway', () => this.#forget(session));
    session.once('close', () => {
      this.#forget(session);
      this.#sessions.delete(session);
      if (this.#sessions.size === 0 && this.#closeWaiters.length > 0) {
        const waiters = this.#closeWaiters;
        this.#closeWaiters = [];
        for (const w of waiters) w();
      }
    });
    const idle = Math.max(1, this.settings.upstreamIdleTimeoutMs);
    session.setTimeout(idle, () => {
      if (this.#streamsOn(session) !== 0) return;
      // Forgotten first: a request dispatched while it closes opens a new session instead.
      this.#forget(session);
      session.close();
    });
    // An idle session must not keep a worker alive by itself.
    session.unref();
    return session;
  }

  #forget(session: http2.ClientHttp2Session): void {
    if (this.#session !== session) return;
    this.#clearConnectTimer();
    if (!this.#connected)
      this.#failQueue(codedError('upstream connection closed before it was ready', 'ECONNRESET'));
    this.#session = null;
    this.#connected = false;
  }

  #clearConnectTimer(): void {
    if (this.#connectTimer !== null) {
      clearTimeout(this.#connectTimer);
      this.#connectTimer = null;
    }
  }

  #failQueue(err: Error): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const q of queue) q.handler.onError(err);
  }

  #streamsOn(session: http2.ClientHttp2Session): number {
    return this.#sessions.get(session) ?? 0;
  }

  #count(session: http2.ClientHttp2Session, delta: number): void {
    const n = this.#sessions.get(session);
    if (n !== undefined) this.#sessions.set(session, n + delta);
  }

  #start(
    session: http2.ClientHttp2Session,
    opts: UpstreamRequest,
    handler: UpstreamHandler,
    fresh: boolean,
  ): void {
    let stream: http2.ClientHttp2Stream | null = null;
    let done = false;
    let responded = false;
    let trailers: string[] | null = null;
    let headersTimer: NodeJS.Timeout | null = null;
    const body = opts.body ?? null;
    const settle = (): boolean => {
      if (done) return false;
      done = true;
      if (headersTimer !== null) clearTimeout(headersTimer);
      return true;
    };
    const fail = (err: Error): void => {
      if (!settle()) return;
      if (stream !== null && !stream.closed) stream.close(nodeHttp2().constants.NGHTTP2_CANCEL);
      if (body instanceof nodeStream.Readable && !body.readableEnded) body.unpipe();
      handler.onError(err);
    };
    const endStream = body === null || (body instanceof Uint8Array && body.length === 0);
    try {
      stream = session.request(requestHeaders(opts), { endStream });
    } catch (err) {
      // The session is going away (GOAWAY or destroyed, not yet reported): nothing was sent, and
      // onConnect was not called, so the exchange may send the request anywhere.
      this.#forget(session);
      fail(Object.assign(err as Error, { code: 'UND_ERR_CLOSED' }));
      return;
    }
    const s = stream;
    this.#count(session, 1);
    const timeout = opts.headersTimeout ?? this.settings.upstreamTimeoutMs;
    if (timeout > 0) {
      headersTimer = setTimeout(() => {
        fail(codedError(`no response head within ${timeout}ms`, 'UND_ERR_HEADERS_TIMEOUT'));
      }, timeout);
    }
    s.on('response', (headers) => {
      if (done) return;
      responded = true;
      if (headersTimer !== null) {
        clearTimeout(headersTimer);
        headersTimer = null;
      }
      const bodyTimeout = opts.bodyTimeout ?? 0;
      if (bodyTimeout > 0) {
        s.setTimeout(bodyTimeout, () =>
          fail(codedError(`response body idle for ${bodyTimeout}ms`, 'UND_ERR_BODY_TIMEOUT')),
        );
      }
      const status = Number(headers[':status']);
      if (handler.onHeaders(status, flatHeaders(headers), () => s.resume(), '') === false) s.pause();
    });
    s.on('data', (chunk: Buffer) => {
      if (done) return;
      if (handler.onData(chunk) === false) s.pause();
    });
    s.on('trailers', (headers) => {
      trailers = flatHeaders(headers);
    });
    s.on('end', () => {
      if (!responded) {
        fail(codedError('upstream stream ended without a response', 'UND_ERR_SOCKET'));
        return;
      }
      if (settle()) handler.onComplete(trailers);
    });
    s.on('error', (err: Error) => fail(Object.assign(err, { code: streamErrorCode(err, s.rstCode) })));
    s.on('close', () => {
      this.#count(session, -1);
      if (!done)
        fail(codedError(`upstream stream closed (code ${s.rstCode})`, streamErrorCode(null, s.rstCode)));
    });
    // Told once the stream exists and is watched: a request it aborts at once still closes its stream.
    handler.onConnect((err) => fail(err ?? codedError('request aborted', 'UND_ERR_ABORTED')), !fresh);
    if (done || endStream) return;
    writeBody(s, body, fail);
  }
}

function writeBody(stream: http2.ClientHttp2Stream, body: unknown, fail: (err: Error) => void): void {
  if (body instanceof Uint8Array) {
    stream.end(body);
    return;
  }
  const readable =
    body instanceof nodeStream.Readable
      ? body
      : nodeStream.Readable.from(body as AsyncIterable<Buffer>, { objectMode: false });
  readable.once('error', (err: Error) => fail(err));
  readable.pipe(stream);
}

/** The flat header list -> an HTTP/2 header object (pseudo-headers first, repeated names as arrays). */
function requestHeaders(opts: UpstreamRequest): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = { ':method': opts.method, ':path': opts.path, ':scheme': 'http' };
  const list = opts.headers;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i].toLowerCase();
    const value = list[i + 1];
    if (name === 'host') {
      out[':authority'] = value;
      continue;
    }
    if (CONNECTION_SPECIFIC.has(name)) continue;
    // Only `TE: trailers` may cross HTTP/2 (RFC 9113 8.2.2).
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  return out;
}

function flatHeaders(headers: http2.IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers)) {
    if (name.charCodeAt(0) === 58) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return out;
}

/**
 * A stream error: a reset by the peer or a dead session is a socket error (retry rules, `reset` counter).
 * REFUSED_STREAM (a reset before the instance processed anything, or a stream above a GOAWAY's last id)
 * is `UND_ERR_REFUSED`: such a request may be retried whatever its method (RFC 9113 8.7).
 */
function streamErrorCode(err: Error | null, rstCode: number | undefined): string {
  if (rstCode === REFUSED_STREAM) return 'UND_ERR_REFUSED';
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNREFUSED') return code;
  return 'UND_ERR_SOCKET';
}
