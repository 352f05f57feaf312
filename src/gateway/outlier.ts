/**
 * Passive outlier detection (`outlierDetection`): from the responses an instance really gave, this
 * worker ejects an instance after `consecutive5xx` 5xx answers in a row, or when its error rate in a
 * window of `windowMs` is above `above` with at least `minRequests`. An ejected instance gets no new
 * requests for `ejectFor`, doubled on each repeat (an instance that goes a clean window starts over);
 * then it takes traffic again. Never more than `maxEjectedPercent` of a revision's instances are out
 * at once, so a revision whose every instance fails is judged by analysis, not hidden here.
 */
import type { OutlierDetection } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { OutlierState } from './outlier-state.ts';
import type { Upstream } from './upstream.ts';

/** Repeat ejections double the time out up to this factor. */
const MAX_EJECT_DOUBLINGS = 5;

export class OutlierDetector {
  private readonly config: OutlierDetection;
  private readonly service: string;
  private readonly log: Logger;
  /** Instances by revision in the current table (the share limit counts within a revision). */
  private readonly byRevision: Map<number, Upstream[]>;

  constructor(config: OutlierDetection, service: string, revisions: Map<number, Upstream[]>, log: Logger) {
    this.config = config;
    this.service = service;
    this.byRevision = revisions;
    this.log = log;
  }

  /** One finished request of `up`: `failed` = a 5xx answer or a gateway error for it. */
  observe(up: Upstream, revision: number, failed: boolean, now: number): void {
    const c = this.config;
    const s = up.outlier;
    if (up.ejectedUntil !== 0 && up.ejectedUntil <= now) {
      up.ejectedUntil = 0;
      this.log.info('instance returned', { service: this.service, instance: up.instance });
    }
    // The error-rate window; without errorRate, ejectFor is the clean period that resets the doubling.
    const windowMs = c.errorRate?.windowMs ?? c.ejectForMs;
    if (now - s.windowStart >= windowMs) {
      if (s.windowRequests > 0 && !this.rateTripped(s)) s.repeats = 0;
      s.windowStart = now;
      s.windowRequests = 0;
      s.windowErrors = 0;
    }
    s.windowRequests++;
    if (failed) {
      s.windowErrors++;
      s.consecutive5xx++;
    } else s.consecutive5xx = 0;
    if (up.ejectedUntil !== 0) return;
    const byRun = c.consecutive5xx !== undefined && s.consecutive5xx >= c.consecutive5xx;
    const byRate = this.rateTripped(s);
    if (!byRun && !byRate) return;
    if (!this.mayEject(revision, now)) return;
    const forMs = c.ejectForMs * 2 ** Math.min(s.repeats, MAX_EJECT_DOUBLINGS);
    up.ejectedUntil = now + forMs;
    s.repeats++;
    s.consecutive5xx = 0;
    s.windowStart = now;
    s.windowRequests = 0;
    s.windowErrors = 0;
    up.stats.owner?.ejected(up.instance);
    this.log.warn('instance ejected', {
      service: this.service,
      instance: up.instance,
      revision,
      reason: byRun ? `${c.consecutive5xx} 5xx in a row` : `error rate above ${c.errorRate?.above}`,
      ejectForMs: forMs,
    });
  }

  private rateTripped(s: OutlierState): boolean {
    const r = this.config.errorRate;
    return (
      r !== undefined && s.windowRequests >= r.minRequests && s.windowErrors / s.windowRequests > r.above
    );
  }

  /** Ejecting one more keeps the revision's ejected share within maxEjectedPercent. */
  private mayEject(revision: number, now: number): boolean {
    const group = this.byRevision.get(revision) ?? [];
    const out = group.filter((u) => u.ejectedUntil > now).length;
    return out + 1 <= Math.floor((group.length * this.config.maxEjectedPercent) / 100);
  }
}
