/**
 * Where a worker's rate-limit tokens come from. Under a master: the master's buckets over IPC, so
 * the whole gateway admits the limit once. A gateway without a master (in-process, or a worker
 * whose master is gone) uses buckets of its own, each worker with its share of the limit.
 */

import { RATE_SWEEP_MS, RateBroker } from './rate-broker.ts';
import type { Grant, RateParams } from './rate-bucket.ts';
import type { RateSource } from './rate-limit.ts';

export class LocalRateSource implements RateSource {
  readonly #broker = new RateBroker();
  /** How many workers share the limit (each keeps `1 / shares` of it). */
  readonly #shares: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(shares = 1) {
    this.#shares = Math.max(1, shares);
  }

  take(set: string, params: RateParams, key: string, want: number, reply: (g: Grant) => void): void {
    this.#timer ??= setInterval(() => this.#broker.sweep(Date.now()), RATE_SWEEP_MS).unref();
    reply(this.#broker.take(set, this.#share(params), key, want, 1, Date.now()));
  }

  giveBack(set: string, params: RateParams, key: string, n: number): void {
    this.#broker.giveBack(set, this.#share(params), key, n, Date.now());
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

/** A worker's source under a master; falls back to its own share when the IPC channel is gone. */
export class IpcRateSource implements RateSource {
  readonly #send: (msg: RateTake | RateGiveBack) => boolean;
  readonly #connected: () => boolean;
  readonly #fallback: LocalRateSource;
  readonly #asked = new Map<number, { take: RateTake; reply: (g: Grant) => void }>();
  #seq = 0;

  constructor(send: (msg: RateTake | RateGiveBack) => boolean, connected: () => boolean, workers: number) {
    this.#send = send;
    this.#connected = connected;
    this.#fallback = new LocalRateSource(workers);
  }

  take(set: string, params: RateParams, key: string, want: number, reply: (g: Grant) => void): void {
    if (!this.#connected()) {
      this.#fallback.take(set, params, key, want, reply);
      return;
    }
    const id = ++this.#seq;
    const take: RateTake = { type: 'rate-take', id, set, params, key, want };
    this.#asked.set(id, { take, reply });
    if (!this.#send(take)) {
      this.#asked.delete(id);
      this.#fallback.take(set, params, key, want, reply);
    }
  }

  giveBack(set: string, params: RateParams, key: string, n: number): void {
    if (this.#connected()) this.#send({ type: 'rate-return', set, params, key, n });
  }

  /** The master's answer to a take. */
  granted(msg: RateGrant): void {
    const asked = this.#asked.get(msg.id);
    if (asked === undefined) return;
    this.#asked.delete(msg.id);
    asked.reply(msg);
  }

  /** The master is gone: takes it never answers are decided here. */
  disconnected(): void {
    const waiting = [...this.#asked.values()];
    this.#asked.clear();
    for (const { take: t, reply } of waiting) this.#fallback.take(t.set, t.params, t.key, t.want, reply);
  }
}
