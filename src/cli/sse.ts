import type http from 'node:http';
import { sleep } from '../util/sleep.ts';
import type { ControlClient } from './client.ts';

/** One server-sent event. */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the server sent none. */
  event: string;
  data: string;
  /** The `id:` in effect for this event (the last one the stream set). */
  id?: string;
}

/** Wait before reconnecting a stream that ended, unless the server asked otherwise (`retry:`). */
const RECONNECT_MS = 300;
/**
 * A stream silent this long is taken for dead and reconnected: the server writes a keep-alive
 * comment every 15 s, so this is two of them missed.
 */
const STREAM_IDLE_MS = 35_000;

/**
 * Splits a text/event-stream into events, following the HTML standard's rules: lines end with
 * LF, CR or CRLF; a blank line dispatches; `:` starts a comment (keep-alive); unknown fields are
 * ignored; an event without data is dropped; the last `id:` sticks for later events.
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  /** The id to send back as Last-Event-ID when reconnecting. */
  lastEventId: string | undefined;
  /** The reconnection delay the server asked for, in ms. */
  retryMs: number | undefined;

  /** Feeds a chunk of the stream; returns the events it completed. */
  push(chunk: string): ServerSentEvent[] {
    this.buffer += chunk;
    const out: ServerSentEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      // A CR as the last character may be the first half of a CRLF split across chunks.
      if (this.buffer[end] === '\r' && end === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + (this.buffer.startsWith('\r\n', end) ? 2 : 1));
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  /** Forgets a half-received event (the connection it came on is gone). */
  reset(): void {
    this.buffer = '';
    this.event = '';
    this.data = [];
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }

  private dispatch(): ServerSentEvent | undefined {
    const event = this.event || 'message';
    const data = this.data;
    this.event = '';
    this.data = [];
    if (data.length === 0) return undefined;
    return { event, data: data.join('\n'), id: this.lastEventId };
  }
}

/** How following a stream ended. */
export type FollowOutcome = 'done' | 'timeout';

export interface FollowOptions {
  /** When to give up (ms since the epoch); Infinity follows until `onEvent` is satisfied. */
  deadline: number;
  /** Called for each event, in order; returning true ends the stream. */
  onEvent: (event: ServerSentEvent) => boolean | Promise<boolean>;
}

/**
 * Follows the server-sent events at `path` of the control API until `onEvent` says it has seen
 * what it waited for ('done') or the deadline passes ('timeout'). A stream that ends or goes
 * silent is reopened with Last-Event-ID, so no logged event is missed; a controller that cannot
 * be reached (UnreachableError) or refuses (ApiResponseError) ends the follow with that error.
 */
export async function followEvents(
  client: ControlClient,
  path: string,
  opts: FollowOptions,
): Promise<FollowOutcome> {
  const parser = new SseParser();
  for (;;) {
    if (Date.now() >= opts.deadline) return 'timeout';
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (parser.lastEventId !== undefined) headers['last-event-id'] = parser.lastEventId;
    const res = await client.open(path, { headers, idleTimeoutMs: STREAM_IDLE_MS });
    const outcome = await consume(res, parser, opts);
    if (outcome !== 'ended') return outcome;
    parser.reset();
    const wait = Math.min(parser.retryMs ?? RECONNECT_MS, opts.deadline - Date.now());
    if (wait > 0) await sleep(wait);
  }
}

/** Reads one connection's events until the caller is satisfied, the deadline, or the stream's end. */
async function consume(
  res: http.IncomingMessage,
  parser: SseParser,
  opts: FollowOptions,
): Promise<FollowOutcome | 'ended'> {
  let timedOut = false;
  const remaining = opts.deadline - Date.now();
  // setTimeout cannot wait longer than about 24.8 days; a longer (or no) deadline needs no timer.
  const timer =
    remaining < 2 ** 31 - 1
      ? setTimeout(() => {
          timedOut = true;
          res.destroy();
        }, remaining)
      : undefined;
  res.setEncoding('utf8');
  const chunks = res[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<string>;
      try {
        next = await chunks.next();
      } catch {
        break; // reset, idle timeout, or our own destroy at the deadline: decided below
      }
      if (next.done) break;
      for (const event of parser.push(next.value)) {
        if (timedOut) return 'timeout';
        // The caller's errors (a failed request while handling an event) are not the stream's: they propagate.
        if (await opts.onEvent(event)) return 'done';
      }
    }
  } finally {
    clearTimeout(timer);
    res.destroy();
  }
  return timedOut ? 'timeout' : 'ended';
}
