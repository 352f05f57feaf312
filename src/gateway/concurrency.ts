/**
 * `limits.maxInFlightPerInstance` with `queueTimeout`: an instance serves at most this worker's
 * share of the limit at once (floor(limit / workers), at least 1), so a new revision starting with
 * few instances is not flooded. A request that finds every instance of its revision full waits in
 * arrival order for a free one; a request whose client left is dropped from the queue when its
 * turn comes (it is never sent); after `queueTimeout` it gets 503 with Retry-After. The queue
 * outlives route table changes: a waiter is served by the service's current instances.
 */
import type { UpstreamRole } from './protocol.ts';
import type { RevisionCounters } from './stats.ts';
import type { RoutedService, Upstream, UpstreamGroup } from './upstream.ts';

/** What the limit needs of a request (an Exchange). */
export interface Admitted {
  readonly finished: boolean;
  role: UpstreamRole | null;
  service: RoutedService | null;
  assign(up: Upstream): void;
  sendLimited(status: number, body: string, retryAfterSeconds: number): void;
}

/** Retry-After of a request the limit turned away: a slot is usually free well within a second. */
const RETRY_AFTER_SECONDS = 1;

interface Waiter {
  ex: Admitted;
  /** The revision it was headed for: where a turned-away request is counted. */
  counters: RevisionCounters;
  role: UpstreamRole | null;
  go: () => void;
  timer: NodeJS.Timeout | null;
}

export class ConcurrencyLimit {
  readonly perInstance: number;
  readonly queueTimeoutMs: number;
  /** Finds the service as the current table routes it (the waiter's may be an older table's). */
  private readonly current: (service: RoutedService) => RoutedService;
  private readonly queue: Waiter[] = [];
  /** Requests turned away (503) because every instance was full for too long. */
  rejected = 0;

  constructor(
    limit: number,
    workers: number,
    queueTimeoutMs: number,
    current: (s: RoutedService) => RoutedService,
  ) {
    this.perInstance = Math.max(1, Math.floor(limit / Math.max(1, workers)));
    this.queueTimeoutMs = queueTimeoutMs;
    this.current = current;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Sends `ex` to `up`, or to another instance of its group with room, or queues it, or answers 503. */
  start(ex: Admitted, service: RoutedService, up: Upstream, go: () => void): void {
    const chosen = up.inflight < this.perInstance ? up : this.roomIn(service.groupFor(ex.role));
    if (chosen !== null && this.queue.length === 0) {
      ex.assign(chosen);
      go();
      return;
    }
    if (this.queueTimeoutMs === 0) {
      this.turnAway(ex, service, up.stats);
      return;
    }
    const w: Waiter = { ex, counters: up.stats, role: ex.role, go, timer: null };
    w.timer = setTimeout(() => {
      const i = this.queue.indexOf(w);
      if (i >= 0) this.queue.splice(i, 1);
      if (!ex.finished) this.turnAway(ex, service, w.counters);
    }, this.queueTimeoutMs);
    this.queue.push(w);
    // Arrival order: someone queued before this one goes first, then this one if there is still room.
    if (chosen !== null) this.released(service);
  }

  /** A slot may have freed up: serve the oldest waiters that now have an instance with room. */
  released(service: RoutedService): void {
    while (this.queue.length > 0) {
      const w = this.queue[0];
      if (w.ex.finished) {
        this.drop(w);
        continue;
      }
      const up = this.roomIn(this.current(service).groupFor(w.role));
      if (up === null) return;
      this.drop(w);
      w.ex.service = this.current(service);
      w.ex.assign(up);
      w.go();
    }
  }

  private drop(w: Waiter): void {
    this.queue.shift();
    if (w.timer !== null) clearTimeout(w.timer);
  }

  /** The instance of `group` with the fewest requests, if it is below the limit. */
  private roomIn(group: UpstreamGroup | null): Upstream | null {
    if (group === null) return null;
    let best: Upstream | null = null;
    for (const u of group.upstreams) {
      if (u.retired || u.inflight >= this.perInstance) continue;
      if (best === null || u.inflight < best.inflight) best = u;
    }
    return best;
  }

  private turnAway(ex: Admitted, service: RoutedService, counters: RevisionCounters): void {
    this.rejected++;
    counters.limitedConcurrency++;
    ex.sendLimited(
      503,
      `cutover: every instance of service ${JSON.stringify(service.name)} is at its limit of ${this.perInstance} requests in flight\n`,
      RETRY_AFTER_SECONDS,
    );
  }
}
