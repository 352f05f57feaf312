/**
 * HTTP/1.1 to one instance: a pool of keep-alive connections (h1-connection.ts), one request at a time
 * on each, as many connections as requests in flight. Idle connections are reused last-in first-out, so
 * the few busiest stay warm and the rest reach their idle timeout.
 *
 * At most MAX_CONNECTING connections are being opened at once; requests beyond wait in order for one
 * (a connect finishing, or a request completing). A request cancelled before its connection was ready
 * (an HTTP/2 client's reset, a client gone) leaves that connection clean for the next one. So a burst of
 * cancelled requests (HTTP/2 rapid reset) costs no burst of connects, which would overflow the
 * instance's accept queue and make everyone's connect wait for a SYN retransmit.
 *
 * Why not undici's Pool (what the gateway used before): per request it validates every header again,
 * turns the response head into Buffers (which the gateway then turned back into strings) and waits two
 * `setImmediate` before reusing a connection; its module graph was ~14 MB of every worker's memory.
 */
import {
  codedError,
  type DispatcherSettings,
  type UpstreamDispatcher,
  type UpstreamHandler,
  type UpstreamRequest,
} from './dispatcher.ts';
import { H1Connection, type H1Pool } from './h1-connection.ts';
import { requestHead } from './h1-head.ts';

/** Where an instance listens: its address as the table gives it, and that address parsed. */
export interface InstanceAddress {
  readonly address: string;
  readonly host: string;
  readonly port: number;
}

/** Connections being opened at once to one instance from one worker. */
export const MAX_CONNECTING = 32;

/** A request waiting for a connection. */
interface Waiting {
  readonly opts: UpstreamRequest;
  readonly head: string;
  readonly handler: UpstreamHandler;
}

export class H1Upstream implements UpstreamDispatcher, H1Pool {
  readonly host: string;
  readonly port: number;
  /** The instance's address as the table gives it: also the Host field of a request that came without one. */
  readonly authority: string;
  readonly settings: DispatcherSettings;
  readonly #idle: H1Connection[] = [];
  readonly #all = new Set<H1Connection>();
  #waiting: Waiting[] = [];
  /** Index of the first request in #waiting still waiting (taken ones are before it). */
  #nextWaiting = 0;
  #connecting = 0;
  #closed = false;
  #closeWaiters: Array<() => void> = [];

  constructor(instance: InstanceAddress, settings: DispatcherSettings) {
    this.host = instance.host;
    this.port = instance.port;
    this.authority = instance.address;
    this.settings = settings;
  }

  /** Connections open (busy, idle or connecting). */
  get connections(): number {
    return this.#all.size;
  }

  dispatch(opts: UpstreamRequest, handler: UpstreamHandler): boolean {
    if (this.#closed) {
      handler.onError(codedError('upstream dispatcher is closed', 'UND_ERR_CLOSED'));
      return false;
    }
    let head: string;
    try {
      head = requestHead(opts, this.authority);
    } catch (err) {
      handler.onError(err as Error);
      return false;
    }
    const conn = this.#reusable();
    if (conn !== undefined) {
      if (!conn.start(opts, head, handler, true) && conn.handler === null) this.#idle.push(conn);
    } else if (this.#connecting < MAX_CONNECTING) this.#open(opts, head, handler);
    else this.#waiting.push({ opts, head, handler });
    return true;
  }

  /** Requests waiting for a connection. */
  get waiting(): number {
    return this.#waiting.length - this.#nextWaiting;
  }

  #reusable(): H1Connection | undefined {
    let conn = this.#idle.pop();
    while (conn !== undefined && !conn.reusable) conn = this.#idle.pop();
    return conn;
  }

  #open(opts: UpstreamRequest, head: string, handler: UpstreamHandler): void {
    this.#connecting++;
    this.#all.add(new H1Connection(this, opts, head, handler));
  }

  #takeWaiting(): Waiting | undefined {
    if (this.#nextWaiting === this.#waiting.length) return undefined;
    const w = this.#waiting[this.#nextWaiting++];
    if (this.#nextWaiting === this.#waiting.length) {
      this.#waiting = [];
      this.#nextWaiting = 0;
    }
    return w;
  }

  /** Opens connections for waiting requests while the bound allows. */
  #openForWaiting(): void {
    while (this.#connecting < MAX_CONNECTING) {
      const w = this.#takeWaiting();
      if (w === undefined) return;
      this.#open(w.opts, w.head, w.handler);
    }
  }

  connected(): void {
    this.#connecting--;
    this.#openForWaiting();
  }

  /**
   * A connect failed. With no other connection to the instance up, it cannot be reached now: the requests
   * waiting fail too (none was written, so each may go elsewhere) rather than each waiting out an attempt
   * of its own. Otherwise the next one gets its attempt when the connection is gone.
   */
  connectFailed(err: Error): void {
    this.#connecting--;
    for (const conn of this.#all) if (conn.connected) return;
    for (let w = this.#takeWaiting(); w !== undefined; w = this.#takeWaiting()) w.handler.onError(err);
  }

  released(conn: H1Connection, fresh: boolean): void {
    // A loop, not recursion: a burst of withdrawn requests (rapid reset) is passed over one by one.
    for (let w = this.#takeWaiting(); w !== undefined; w = this.#takeWaiting()) {
      if (conn.start(w.opts, w.head, w.handler, !fresh) || conn.handler !== null || !conn.reusable) return;
    }
    if (this.#closed) conn.socket.destroy();
    else this.#idle.push(conn);
  }

  gone(conn: H1Connection): void {
    this.#all.delete(conn);
    const i = this.#idle.lastIndexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    this.#openForWaiting();
    if (this.#all.size === 0 && this.#closeWaiters.length > 0) {
      const waiters = this.#closeWaiters;
      this.#closeWaiters = [];
      for (const w of waiters) w();
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.socket.destroy();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  destroy(): Promise<void> {
    this.#closed = true;
    const err = codedError('upstream dispatcher destroyed', 'UND_ERR_DESTROYED');
    for (let w = this.#takeWaiting(); w !== undefined; w = this.#takeWaiting()) w.handler.onError(err);
    for (const conn of [...this.#all]) conn.destroy(err);
    return this.close();
  }
}
