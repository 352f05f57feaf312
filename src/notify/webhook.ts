/**
 * Webhook delivery. Each webhook has its own queue, delivered in order, one request at a time; an
 * attempt that fails with a network error, a timeout, a 5xx or a 429 is retried (`retries` times)
 * with exponential backoff (200 ms, 400 ms, ..., at most 10 s; a 429's Retry-After is honoured up
 * to 30 s); other 4xx (and 3xx) are not retried. A queue holds at most `MAX_QUEUE` notices: beyond
 * that the oldest is dropped with a warning.
 */
import { setTimeout as delayFor } from 'node:timers/promises';
import type { NotificationConfig, NotificationEvent } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { errorText } from '../util/error-text.ts';

export const MAX_QUEUE = 1000;
export const BACKOFF_BASE_MS = 200;
export const BACKOFF_MAX_MS = 10_000;
export const RETRY_AFTER_MAX_MS = 30_000;

/** A rendered notice waiting for delivery. */
export interface QueuedNotice {
  body: string;
  event: NotificationEvent;
  service: string;
}

type Outcome = { ok: true } | { ok: false; retry: boolean; error: string; retryAfterMs?: number };

/** A URL without credentials or query (logs must not leak webhook secrets). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.length > 1 ? '/…' : '';
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return '(invalid url)';
  }
}

/** One webhook: its own queue, delivered in order, one request at a time. */
export class Webhook {
  private readonly queue: QueuedNotice[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private readonly log: Logger;
  readonly target: string;

  readonly config: NotificationConfig;

  constructor(config: NotificationConfig, log: Logger) {
    this.config = config;
    this.target = redact(config.url);
    this.log = log.child({ webhook: this.target });
  }

  wants(event: NotificationEvent): boolean {
    return this.config.events === undefined || this.config.events.includes(event);
  }

  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  enqueue(item: QueuedNotice): void {
    this.queue.push(item);
    if (this.queue.length > MAX_QUEUE) {
      const dropped = this.queue.shift()!;
      this.log.warn('notification queue full, dropping the oldest', {
        service: dropped.service,
        event: dropped.event,
        queued: this.queue.length,
      });
    }
    // Deliver on a later tick: notify() returns at once.
    if (!this.running) this.schedulePump();
  }

  private schedulePump(): void {
    this.running = true;
    setImmediate(() => {
      this.pump().catch((err) => this.log.error('notification delivery crashed', { error: err }));
    });
  }

  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) await this.deliver(item);
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      // Something may have been queued by a waiter or during the final await.
      if (this.queue.length > 0) this.schedulePump();
    }
  }

  private async deliver(item: QueuedNotice): Promise<void> {
    const attempts = 1 + Math.max(0, this.config.retries);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(item.body);
      if (outcome.ok) {
        this.log.debug('notification delivered', { service: item.service, event: item.event, attempt });
        return;
      }
      if (!outcome.retry || attempt >= attempts) {
        this.log.warn('notification not delivered', {
          service: item.service,
          event: item.event,
          attempts: attempt,
          error: outcome.error,
        });
        return;
      }
      let delay = Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);
      if (outcome.retryAfterMs !== undefined)
        delay = Math.max(delay, Math.min(outcome.retryAfterMs, RETRY_AFTER_MAX_MS));
      this.log.debug('notification attempt failed, retrying', {
        service: item.service,
        event: item.event,
        attempt,
        error: outcome.error,
        retryInMs: delay,
      });
      // A pending retry does not keep the process alive.
      await delayFor(delay, undefined, { ref: false });
    }
  }

  private async attempt(body: string): Promise<Outcome> {
    const signal = AbortSignal.timeout(this.config.timeoutMs);
    try {
      const res = await fetch(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'cutover-notify' },
        body,
        signal,
        redirect: 'manual',
      });
      // The body is not needed; reading it (bounded by the timeout) frees the connection.
      await res.arrayBuffer().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const retry = res.status >= 500 || res.status === 429;
      const outcome: Outcome = { ok: false, retry, error: `HTTP ${res.status}` };
      const ra = res.headers.get('retry-after');
      if (res.status === 429 && ra && /^\d+$/.test(ra.trim()))
        outcome.retryAfterMs = Number(ra.trim()) * 1000;
      return outcome;
    } catch (err) {
      if (signal.aborted)
        return { ok: false, retry: true, error: `timed out after ${this.config.timeoutMs}ms` };
      return { ok: false, retry: true, error: errorText(err) };
    }
  }
}
