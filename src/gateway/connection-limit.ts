/**
 * `limits.maxConnectionsPerClient`: how many connections one client address may have open to a
 * service, for the whole gateway (the master counts them for all workers). A connection takes its
 * slot with its first request to the service and frees it when it closes; a request on a
 * connection beyond the limit gets 429 and the connection is closed. Connections from a trusted
 * proxy (`gateway.trustedProxies`) carry many clients and are not limited.
 */
import type { LimitSource } from './limit-source.ts';
import type { RateLimited } from './rate-limit.ts';
import type { RevisionCounters } from './stats.ts';

/** A client connection: an HTTP/1 socket or an HTTP/2 session. */
export interface ClientConnection {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
}

interface Waiter {
  ex: RateLimited;
  counters: RevisionCounters;
  go: () => void;
}

/** Per connection: the services it holds a slot of (true) or is asking for (the waiting requests). */
const held = new WeakMap<ClientConnection, Map<string, true | Waiter[]>>();

export class ConnectionLimit {
  /** The master's count for this service (kept while the limit changes: the connections stay). */
  readonly set: string;
  readonly max: number;
  readonly #source: LimitSource;
  readonly #trusted: (peer: string | undefined) => boolean;
  readonly #body: string;

  constructor(
    service: string,
    max: number,
    source: LimitSource,
    trusted: (peer: string | undefined) => boolean,
  ) {
    this.set = `${service}|connections`;
    this.max = max;
    this.#source = source;
    this.#trusted = trusted;
    this.#body = `cutover: too many connections from this address to service ${JSON.stringify(service)} (limit ${max})\n`;
  }

  /** True when the request may go on at once: its connection holds a slot, or its peer is trusted. */
  holds(conn: ClientConnection, peer: string | undefined): boolean {
    return held.get(conn)?.get(this.set) === true || peer === undefined || this.#trusted(peer);
  }

  /** The connection's first request to the service: take a slot for it, then go on or 429 and close. */
  wait(
    conn: ClientConnection,
    peer: string,
    ex: RateLimited,
    counters: RevisionCounters,
    go: () => void,
  ): void {
    let mine = held.get(conn);
    if (mine === undefined) {
      mine = new Map();
      held.set(conn, mine);
    }
    const w: Waiter = { ex, counters, go };
    const asking = mine.get(this.set);
    if (Array.isArray(asking)) {
      asking.push(w);
      return;
    }
    const waiting = [w];
    mine.set(this.set, waiting);
    const set = this.set;
    this.#source.takeConnection(set, peer, this.max, (ok) => {
      if (!ok) {
        mine.delete(set);
        for (const x of waiting) if (!x.ex.finished) this.#turnAway(x);
        return;
      }
      if (conn.destroyed) {
        this.#source.releaseConnection(set, peer);
        mine.delete(set);
        return;
      }
      mine.set(set, true);
      conn.once('close', () => this.#source.releaseConnection(set, peer));
      for (const x of waiting) if (!x.ex.finished) x.go();
    });
  }

  #turnAway(w: Waiter): void {
    w.counters.limitedConnections++;
    w.ex.sendLimited(429, this.#body, 1, [], true);
  }
}
