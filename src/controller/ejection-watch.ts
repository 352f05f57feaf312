/**
 * Turns the gateway's ejections (connect failures, `outlierDetection`) into events: an instance
 * taken out of rotation and its return are where an operator looks (`cutover events`, the
 * dashboard), not only in the gateway's log. The gateway decides; this only reads its counters.
 */
import type { CoreEvent } from '../core/model.ts';
import type { StatsReport } from '../gateway/protocol.ts';
import type { Logger } from '../log/logger.ts';
import { Poller } from '../util/poller.ts';

/** How often the gateway's counters are read for ejections. */
export const EJECTION_WATCH_INTERVAL_MS = 1000;

export interface Seen {
  ejections: number;
  ejected: boolean;
}

/** The events between two reads (pure): a new ejection, and a return to rotation. */
export function ejectionEvents(
  before: ReadonlyMap<string, Seen>,
  stats: StatsReport,
): { events: CoreEvent[]; seen: Map<string, Seen> } {
  const events: CoreEvent[] = [];
  const seen = new Map<string, Seen>();
  for (const [service, s] of Object.entries(stats.services)) {
    for (const [instance, i] of Object.entries(s.instances ?? {})) {
      const now: Seen = { ejections: i.ejections, ejected: i.ejected === true };
      const key = `${service}/${instance}`;
      seen.set(key, now);
      const was = before.get(key) ?? { ejections: 0, ejected: false };
      if (now.ejections > was.ejections || (now.ejected && !was.ejected)) {
        events.push({
          service,
          type: 'InstanceEjected',
          revision: i.revision,
          message: `instance ${instance} ejected by the gateway (${now.ejections} ejection${now.ejections === 1 ? '' : 's'} so far)`,
        });
      }
      if (was.ejected && !now.ejected) {
        events.push({
          service,
          type: 'InstanceReturned',
          revision: i.revision,
          message: `instance ${instance} back in rotation`,
        });
      }
    }
  }
  return { events, seen };
}

export interface EjectionWatchOptions {
  read: () => Promise<StatsReport>;
  tell: (events: CoreEvent[]) => void;
  log: Logger;
}

export class EjectionWatch {
  readonly #opts: EjectionWatchOptions;
  readonly #poller = new Poller(EJECTION_WATCH_INTERVAL_MS, () => this.#read());
  #seen = new Map<string, Seen>();

  constructor(opts: EjectionWatchOptions) {
    this.#opts = opts;
  }

  start(): void {
    this.#poller.start();
  }

  stop(): void {
    this.#poller.stop();
  }

  poll(): Promise<void> {
    return this.#poller.run();
  }

  async #read(): Promise<void> {
    try {
      const { events, seen } = ejectionEvents(this.#seen, await this.#opts.read());
      this.#seen = seen;
      if (events.length > 0) this.#opts.tell(events);
    } catch (err) {
      // The gateway may be restarting: the next read catches up (counters are cumulative).
      this.#opts.log.debug('ejection watch: gateway stats unavailable', { error: err });
    }
  }
}
