import type http from 'node:http';
import type { Controller } from '../controller/controller.ts';
import { serviceStatus } from './status.ts';

/** How often the stream looks for changes. */
const STREAM_POLL_MS = 250;
/** Comment lines keep proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

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
  const resume = Number(req.headers['last-event-id']);
  let lastId =
    Number.isInteger(resume) && resume >= 0 ? resume : (c.events({ service: only, limit: 1 })[0]?.id ?? 0);
  const last = new Map<string, string>();
  const tick = () => {
    for (const svc of c.services()) {
      if (only && svc.name !== only) continue;
      const doc = JSON.stringify(serviceStatus(c, svc.name));
      if (doc === last.get(svc.name)) continue;
      last.set(svc.name, doc);
      res.write(`event: status\ndata: ${doc}\n\n`);
    }
    for (const e of c.events({ service: only, afterId: lastId, limit: 500 })) {
      res.write(`id: ${e.id}\nevent: event\ndata: ${JSON.stringify(e)}\n\n`);
      lastId = e.id;
    }
  };
  tick();
  const timer = setInterval(tick, STREAM_POLL_MS);
  const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
  res.on('close', () => {
    clearInterval(timer);
    clearInterval(keepalive);
  });
}
