/**
 * The master's side of the limits that hold for the whole gateway: `limits.rate` buckets and
 * `limits.maxConnectionsPerClient` counts, for the workers of every generation (a reload keeps
 * them). A worker that exits releases its connection slots.
 */

import { ClientSlots } from './client-slots.ts';
import type { ConnGrant, LimitAsk, RateGrant } from './limit-source.ts';
import { RateBroker } from './rate-broker.ts';

export function isLimitAsk(msg: { type: string }): msg is LimitAsk {
  return (
    msg.type === 'rate-take' ||
    msg.type === 'rate-return' ||
    msg.type === 'conn-take' ||
    msg.type === 'conn-release'
  );
}

export class MasterLimits<Owner> {
  readonly #rates = new RateBroker();
  readonly #slots = new ClientSlots<Owner>();

  /** The answer to send back to `owner`, or null (a give-back or release needs none). */
  handle(owner: Owner, msg: LimitAsk, workers: number): RateGrant | ConnGrant | null {
    const now = Date.now();
    switch (msg.type) {
      case 'rate-take':
        return {
          type: 'rate-grant',
          id: msg.id,
          ...this.#rates.take(msg.set, msg.params, msg.key, msg.want, workers, now),
        };
      case 'rate-return':
        this.#rates.giveBack(msg.set, msg.params, msg.key, msg.n, now);
        return null;
      case 'conn-take':
        return {
          type: 'conn-grant',
          id: msg.id,
          ok: this.#slots.take(owner, msg.set, msg.client, msg.max),
        };
      case 'conn-release':
        this.#slots.release(owner, msg.set, msg.client);
        return null;
    }
  }

  /** A worker exited: its connections are gone. */
  gone(owner: Owner): void {
    this.#slots.dropOwner(owner);
  }
}
