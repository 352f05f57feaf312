import type http from 'node:http';
import type { Controller } from '../controller/controller.ts';
import type { StoredEvent } from '../store/types.ts';
import { serviceStatus } from './status.ts';

/** Comment lines keep proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;
/** Events read from the log per query (the newest ones when more are waiting). */
const EVENT_PAGE = 500;

/** One open `GET /v1/stream`. */
interface Subscriber {
  res: http.ServerResponse;
  /** Only this service's statuses and events (`?service=`). */
  only?: string;
  /** The last event id this subscriber has been sent (or resumed from). */
  lastId: number;
}

/**
 * Fans a controller's changes out to every open stream. The controller says which service
 * changed; once per burst of changes (the next turn of the event loop) the feed computes that
 * service's status document, serializes it once, and writes it to every subscriber of that
 * service if it differs from the last one sent; new log events are read once and written the
 * same way. Nothing runs while no stream is open.
 */
class StatusFeed {
  private readonly controller: Controller;
  private readonly subscribers = new Set<Subscriber>();
  /** The last status document sent per service, serialized. */
  private readonly sent = new Map<string, string>();
  /** Services changed since the last flush. */
  private readonly changed = new Set<string>();
  /** The newest event written by a flush. */
  private eventCursor = 0;
  private flushScheduled = false;
  private unsubscribe?: () => void;

  constructor(controller: Controller) {
    this.controller = controller;
  }

  add(sub: Subscriber): void {
    const c = this.controller;
    if (this.subscribers.size === 0) {
      this.eventCursor = c.events({ limit: 1 })[0]?.id ?? 0;
      this.unsubscribe = c.onChange((service) => this.markChanged(service));
    }
    this.subscribers.add(sub);
    for (const svc of c.services()) {
      if (sub.only && svc.name !== sub.only) continue;
      const doc = this.sent.get(svc.name) ?? this.serialize(svc.name);
      if (doc !== undefined) sub.res.write(statusFrame(doc));
    }
    // The backlog after Last-Event-ID (as before, the newest EVENT_PAGE of it); events newer
    // than the feed's cursor come with the next flush.
    for (const e of c.events({ service: sub.only, afterId: sub.lastId, limit: EVENT_PAGE })) {
      if (e.id > this.eventCursor) break;
      sub.res.write(eventFrame(e));
      sub.lastId = e.id;
    }
  }

  remove(sub: Subscriber): void {
    this.subscribers.delete(sub);
    if (this.subscribers.size > 0) return;
    // With nobody listening, what was sent goes stale: the next first subscriber starts afresh.
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.sent.clear();
    this.changed.clear();
  }

  private markChanged(service: string): void {
    this.changed.add(service);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Coalesces a burst (a reconcile pass records several states and events) into one flush,
    // and runs after the controller has finished updating what the status is computed from.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.subscribers.size === 0) return;
    const services = [...this.changed];
    this.changed.clear();
    for (const name of services) {
      const previous = this.sent.get(name);
      const doc = this.serialize(name);
      if (doc === previous) continue;
      // A service that was streamed and is gone (removed by apply) is said so once.
      const frame = doc === undefined ? removedFrame(name) : statusFrame(doc);
      for (const sub of this.subscribers) if (!sub.only || sub.only === name) sub.res.write(frame);
    }
    for (const e of this.controller.events({ afterId: this.eventCursor, limit: EVENT_PAGE })) {
      const frame = eventFrame(e);
      for (const sub of this.subscribers) {
        if ((sub.only && sub.only !== e.service) || e.id <= sub.lastId) continue;
        sub.res.write(frame);
        sub.lastId = e.id;
      }
      this.eventCursor = e.id;
    }
  }

  /** The service's status document as sent, remembered as the last one sent. */
  private serialize(service: string): string | undefined {
    const status = this.controller.service(service) && serviceStatus(this.controller, service);
    if (!status) {
      this.sent.delete(service);
      return undefined;
    }
    const doc = JSON.stringify(status);
    this.sent.set(service, doc);
    return doc;
  }
}

function statusFrame(doc: string): string {
  return `event: status\ndata: ${doc}\n\n`;
}

function removedFrame(service: string): string {
  return `event: removed\ndata: ${JSON.stringify({ name: service })}\n\n`;
}

function eventFrame(e: StoredEvent): string {
  return `id: ${e.id}\nevent: event\ndata: ${JSON.stringify(e)}\n\n`;
}

const feeds = new WeakMap<Controller, StatusFeed>();

/**
 * Server-sent events for `GET /v1/stream`: `status` carries a service's status document
 * whenever it changes, `event` every new entry of the event log (with its id, so a client that
 * reconnects with `Last-Event-ID` misses nothing).
 */
export function streamStatus(
  c: Controller,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  only?: string,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  // EventSource sends Last-Event-ID when it reconnects by itself; a page that closed its stream
  // (a hidden tab) and opens a new one can only say it in the query.
  const query = new URL(req.url ?? '/', 'http://control').searchParams.get('lastEventId');
  const header = req.headers['last-event-id'];
  const resume = Number(header ?? query ?? Number.NaN);
  const lastId =
    Number.isInteger(resume) && resume >= 0 ? resume : (c.events({ service: only, limit: 1 })[0]?.id ?? 0);
  let feed = feeds.get(c);
  if (!feed) {
    feed = new StatusFeed(c);
    feeds.set(c, feed);
  }
  const sub: Subscriber = { res, only, lastId };
  feed.add(sub);
  const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
  res.on('close', () => {
    clearInterval(keepalive);
    feed.remove(sub);
  });
}
