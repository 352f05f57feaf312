/**
 * Rollout notifications: webhooks (`NotificationConfig`) receive a JSON document or a Slack
 * incoming-webhook message for each selected rollout event.
 *
 * `Notifier.notify` is fire-and-forget: it never throws and never waits. Each webhook has its own
 * queue, delivered in order, one request at a time; an attempt that fails with a network error, a
 * timeout, a 5xx or a 429 is retried (`retries` times) with exponential backoff (200 ms, 400 ms, ...,
 * at most 10 s; a 429's Retry-After is honoured up to 30 s); other 4xx (and 3xx) are not retried.
 * A queue holds at most `MAX_QUEUE` notices: beyond that the oldest is dropped with a warning.
 */
import type { NotificationConfig, NotificationEvent } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';

export interface RolloutNotice {
  event: NotificationEvent;
  service: string;
  revision?: number;
  version?: string;
  message: string;
  /** Epoch milliseconds. */
  time: number;
  details?: Record<string, unknown>;
}

/** The `json` format's body. */
export interface NoticeDocument {
  event: NotificationEvent;
  service: string;
  revision?: number;
  version?: string;
  message: string;
  /** ISO 8601. */
  time: string;
  details?: Record<string, unknown>;
}

export const MAX_QUEUE = 1000;
export const BACKOFF_BASE_MS = 200;
export const BACKOFF_MAX_MS = 10_000;
export const RETRY_AFTER_MAX_MS = 30_000;

/** The Cutover core event types (src/core/model.ts CoreEvent) that become notifications. */
const EVENT_MAP: Record<string, NotificationEvent> = {
  RolloutStarted: 'rollout-started',
  StepCompleted: 'step-completed',
  RolloutPaused: 'paused',
  RolloutPromoted: 'promoted',
  TrafficSwitched: 'promoted',
  RolloutAborted: 'aborted',
  // A failed rollout (progress deadline, failed hook, failed analysis) ends without success just like
  // an abort: receivers watching `aborted` must see it. The message says "rollout failed: ...", and
  // an automatic rollback, when one follows, is announced separately as `rolled-back`.
  RolloutFailed: 'aborted',
  RollbackStarted: 'rolled-back',
  RolloutSucceeded: 'succeeded',
  AnalysisFailed: 'analysis-failed',
};

/**
 * Maps a core event to a notice, or undefined for the types not notified (instance, traffic weight,
 * config and hook events, resumes). `RolloutFailed` maps to `aborted` (see above). `time` is now.
 */
export function noticeFromEvent(
  e: { service: string; type: string; revision?: number; message: string },
  version?: string,
): RolloutNotice | undefined {
  const event = Object.hasOwn(EVENT_MAP, e.type) ? EVENT_MAP[e.type] : undefined;
  if (!event) return undefined;
  const notice: RolloutNotice = { event, service: e.service, message: e.message, time: Date.now() };
  if (e.revision !== undefined) notice.revision = e.revision;
  if (version !== undefined) notice.version = version;
  return notice;
}

// ---------------------------------------------------------------------------------------------
// payloads

export function noticeDocument(n: RolloutNotice): NoticeDocument {
  return {
    event: n.event,
    service: n.service,
    revision: n.revision,
    version: n.version,
    message: n.message,
    time: new Date(n.time).toISOString(),
    details: n.details,
  };
}

const EVENT_LABEL: Record<NotificationEvent, string> = {
  'rollout-started': 'rollout started',
  'step-completed': 'step completed',
  paused: 'paused',
  promoted: 'promoted',
  aborted: 'aborted',
  'rolled-back': 'rolled back',
  'analysis-failed': 'analysis failed',
  succeeded: 'succeeded',
};

const EVENT_EMOJI: Record<NotificationEvent, string> = {
  'rollout-started': ':rocket:',
  'step-completed': ':arrow_forward:',
  paused: ':double_vertical_bar:',
  promoted: ':arrow_up:',
  aborted: ':x:',
  'rolled-back': ':rewind:',
  'analysis-failed': ':warning:',
  succeeded: ':white_check_mark:',
};

/** Slack mrkdwn control characters. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** "*web* revision 3 (v3): aborted — analysis failed: errors 5.2% > 1%" */
export function slackText(n: RolloutNotice): string {
  let subject = `*${esc(n.service)}*`;
  if (n.revision !== undefined) subject += ` revision ${n.revision}`;
  if (n.version !== undefined) subject += ` (${esc(n.version)})`;
  const msg = n.message ? ` — ${esc(n.message)}` : '';
  return `${subject}: ${EVENT_LABEL[n.event]}${msg}`;
}

function detailValue(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A Slack incoming-webhook message: `text` (the notification fallback) and Block Kit `blocks`. */
export function slackMessage(n: RolloutNotice): { text: string; blocks: unknown[] } {
  const text = clip(slackText(n), 3000);
  const blocks: unknown[] = [
    {
      type: 'section',
      text: { type: 'mrkdwn', text: clip(`${EVENT_EMOJI[n.event]} ${slackText(n)}`, 3000) },
    },
  ];
  const entries = Object.entries(n.details ?? {}).filter(([, v]) => v !== undefined);
  if (entries.length > 0) {
    blocks.push({
      type: 'section',
      fields: entries.slice(0, 10).map(([k, v]) => ({
        type: 'mrkdwn',
        text: clip(`*${esc(k)}*\n${esc(detailValue(v))}`, 2000),
      })),
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `${n.event} · ${new Date(n.time).toISOString()} · cutover` }],
  });
  return { text, blocks };
}

/** The request body for a webhook of `format`. */
export function renderNotice(n: RolloutNotice, format: NotificationConfig['format']): string {
  return JSON.stringify(format === 'slack' ? slackMessage(n) : noticeDocument(n));
}

// ---------------------------------------------------------------------------------------------
// delivery

interface Item {
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

class Webhook {
  private readonly queue: Item[] = [];
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

  enqueue(item: Item): void {
    this.queue.push(item);
    if (this.queue.length > MAX_QUEUE) {
      const dropped = this.queue.shift()!;
      this.log.warn('notification queue full, dropping the oldest', {
        service: dropped.service,
        event: dropped.event,
        queued: this.queue.length,
      });
    }
    if (!this.running) {
      this.running = true;
      // Deliver on a later tick: notify() returns at once.
      setImmediate(() => {
        this.pump().catch((err) => this.log.error('notification delivery crashed', { error: err }));
      });
    }
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
      if (this.queue.length > 0) {
        this.running = true;
        setImmediate(() => {
          this.pump().catch((err) => this.log.error('notification delivery crashed', { error: err }));
        });
      }
    }
  }

  private async deliver(item: Item): Promise<void> {
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
      await new Promise<void>((r) => setTimeout(r, delay).unref());
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
      return { ok: false, retry: true, error: causeText(err) };
    }
  }
}

function causeText(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && typeof (errors[0] as { code?: unknown })?.code === 'string') {
      return (errors[0] as { code: string }).code;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}

export class Notifier {
  private readonly hooks: Webhook[];
  private readonly log: Logger;

  constructor(configs: NotificationConfig[], log: Logger) {
    this.log = log.child({ component: 'notify' });
    this.hooks = configs.map((c) => new Webhook(c, this.log));
  }

  /** Queues `e` for every webhook that selected its event. Never throws, never waits. */
  notify(e: RolloutNotice): void {
    try {
      const bodies = new Map<NotificationConfig['format'], string>();
      for (const hook of this.hooks) {
        if (!hook.wants(e.event)) continue;
        const format = hook.config.format;
        let body = bodies.get(format);
        if (body === undefined) {
          body = renderNotice(e, format);
          bodies.set(format, body);
        }
        hook.enqueue({ body, event: e.event, service: e.service });
      }
    } catch (err) {
      // e.g. details that JSON cannot encode (a cycle, a BigInt)
      try {
        this.log.warn('notification dropped', { service: e?.service, event: e?.event, error: err });
      } catch {
        // never throw
      }
    }
  }

  /** Resolves when every queue is delivered (or given up), or after `timeoutMs` — never rejects. */
  async flush(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = Promise.all(this.hooks.map((h) => h.whenIdle())).then(() => true);
    const finished = await Promise.race([done, timeout]);
    clearTimeout(timer);
    if (!finished) {
      const pending = this.hooks.filter((h) => !h.idle).map((h) => h.target);
      this.log.warn('notifications still pending after flush timeout', { timeoutMs, webhooks: pending });
    }
  }
}
