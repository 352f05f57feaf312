/**
 * Where a worker's limits are decided for the whole gateway: `limits.rate` tokens and
 * `limits.maxConnectionsPerClient` slots. Under a master: the master's buckets and counts over
 * IPC, so the whole gateway admits each limit once. A gateway without a master (in-process, or a
 * worker whose master is gone) decides alone, each worker with its share of the limit.
 */
import { ClientSlots } from './client-slots.ts';
import { RateBroker } from './rate-broker.ts';
import type { Grant, RateParams } from './rate-bucket.ts';

export interface LimitSource {
  take(set: string, params: RateParams, key: string, want: number, reply: (g: Grant) => void): void;
  giveBack(set: string, params: RateParams, key: string, n: number): void;
  /** A slot for one more connection of `client` (false: it has `max` open already). */
  takeConnection(set: string, client: string, max: number, reply: (ok: boolean) => void): void;
  releaseConnection(set: string, client: string): void;
}

const LOCAL = 'local';

export class LocalLimitSource implements LimitSource {
  readonly #broker = new RateBroker();
  readonly #slots = new ClientSlots<string>();
  /** How many workers share the limits (each keeps `1 / shares` of them). */
  readonly #shares: number;

  constructor(shares = 1) {
    this.#shares = Math.max(1, shares);
  }

  take(set: string, params: RateParams, key: string, want: number, reply: (g: Grant) => void): void {
    reply(this.#broker.take(set, this.#share(params), key, want, 1, Date.now()));
  }

  giveBack(set: string, params: RateParams, key: string, n: number): void {
    this.#broker.giveBack(set, this.#share(params), key, n, Date.now());
  }

  takeConnection(set: string, client: string, max: number, reply: (ok: boolean) => void): void {
    reply(this.#slots.take(LOCAL, set, client, Math.max(1, Math.floor(max / this.#shares))));
  }

  releaseConnection(set: string, client: string): void {
    this.#slots.release(LOCAL, set, client);
  }

  #share(p: RateParams): RateParams {
    const n = this.#shares;
    if (n === 1) return p;
    return { requests: p.requests / n, perMs: p.perMs, burst: Math.max(1, Math.floor(p.burst / n)) };
  }
}

/** What goes over IPC (see ipc.ts). */
export interface RateTake {
  type: 'rate-take';
  id: number;
  set: string;
  params: RateParams;
  key: string;
  want: number;
}

export interface RateGiveBack {
  type: 'rate-return';
  set: string;
  params: RateParams;
  key: string;
  n: number;
}

export interface RateGrant extends Grant {
  type: 'rate-grant';
  id: number;
}

export interface ConnTake {
  type: 'conn-take';
  id: number;
  set: string;
  client: string;
  max: number;
}

export interface ConnRelease {
  type: 'conn-release';
  set: string;
  client: string;
}

export interface ConnGrant {
  type: 'conn-grant';
  id: number;
  ok: boolean;
}

export type LimitAsk = RateTake | RateGiveBack | ConnTake | ConnRelease;

type Asked =
  | { kind: 'rate'; take: RateTake; reply: (g: Grant) => void }
  | { kind: 'conn'; take: ConnTake; reply: (ok: boolean) => void };

/** A worker's source under a master; decides alone (its share) when the IPC channel is gone. */
export class IpcLimitSource implements LimitSource {
  readonly #send: (msg: LimitAsk) => boolean;
  readonly #connected: () => boolean;
  readonly #fallback: LocalLimitSource;
  readonly #asked = new Map<number, Asked>();
  #seq = 0;

  constructor(send: (msg: LimitAsk) => boolean, connected: () => boolean, workers: number) {
    this.#send = send;
    this.#connected = connected;
    this.#fallback = new LocalLimitSource(workers);
  }

  take(set: string, params: RateParams, key: string, want: number, reply: (g: Grant) => void): void {
    const take: RateTake = { type: 'rate-take', id: ++this.#seq, set, params, key, want };
    if (!this.#ask({ kind: 'rate', take, reply })) this.#fallback.take(set, params, key, want, reply);
  }

  giveBack(set: string, params: RateParams, key: string, n: number): void {
    if (this.#connected()) this.#send({ type: 'rate-return', set, params, key, n });
  }

  takeConnection(set: string, client: string, max: number, reply: (ok: boolean) => void): void {
    const take: ConnTake = { type: 'conn-take', id: ++this.#seq, set, client, max };
    if (!this.#ask({ kind: 'conn', take, reply })) this.#fallback.takeConnection(set, client, max, reply);
  }

  releaseConnection(set: string, client: string): void {
    if (this.#connected()) this.#send({ type: 'conn-release', set, client });
  }

  /** The master's answer to a take. */
  answered(msg: RateGrant | ConnGrant): void {
    const asked = this.#asked.get(msg.id);
    if (asked === undefined) return;
    this.#asked.delete(msg.id);
    if (asked.kind === 'rate' && msg.type === 'rate-grant') asked.reply(msg);
    else if (asked.kind === 'conn' && msg.type === 'conn-grant') asked.reply(msg.ok);
  }

  /** The master is gone: takes it never answers are decided here. */
  disconnected(): void {
    const waiting = [...this.#asked.values()];
    this.#asked.clear();
    for (const a of waiting) this.#decideHere(a);
  }

  #ask(a: Asked): boolean {
    if (!this.#connected()) return false;
    this.#asked.set(a.take.id, a);
    if (this.#send(a.take)) return true;
    this.#asked.delete(a.take.id);
    return false;
  }

  #decideHere(a: Asked): void {
    if (a.kind === 'rate') {
      const t = a.take;
      this.#fallback.take(t.set, t.params, t.key, t.want, a.reply);
    } else this.#fallback.takeConnection(a.take.set, a.take.client, a.take.max, a.reply);
  }
}
