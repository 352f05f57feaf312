/**
 * HTTP/1.1 to one instance: a pool of keep-alive connections (h1-connection.ts), one request at a time
 * on each, as many connections as requests in flight. Idle connections are reused last-in first-out, so
 * the few busiest stay warm and the rest reach their idle timeout.
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

export class H1Upstream implements UpstreamDispatcher, H1Pool {
  readonly host: string;
  readonly port: number;
  /** The instance's address as the table gives it: also the Host field of a request that came without one. */
  readonly authority: string;
  readonly settings: DispatcherSettings;
  readonly #idle: H1Connection[] = [];
  readonly #all = new Set<H1Connection>();
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
    let conn = this.#idle.pop();
    while (conn !== undefined && !conn.reusable) conn = this.#idle.pop();
    if (conn !== undefined) conn.start(opts, head, handler);
    else this.#all.add(new H1Connection(this, opts, head, handler));
    return true;
  }

  released(conn: H1Connection): void {
    if (this.#closed) conn.socket.destroy();
    else this.#idle.push(conn);
  }

  gone(conn: H1Connection): void {
    this.#all.delete(conn);
    const i = this.#idle.lastIndexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
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
    for (const conn of [...this.#all]) conn.destroy(err);
    return this.close();
  }
}
