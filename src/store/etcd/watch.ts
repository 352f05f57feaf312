/**
 * A watch over the gateway's streaming /v3/watch (newline-delimited JSON). It resumes after the last
 * revision it delivered, on any endpoint, whenever the stream breaks, so no event is lost or repeated;
 * when that revision has been compacted it reports WatchCompactedError and goes on from the current one.
 */
import { errorText } from '../../util/error-text.ts';
import { b64, decodeEvents, headerRevision, int, prefixRangeEnd, type Wire } from './codec.ts';
import type { Transport } from './transport.ts';
import type { WatchEvent, WatchHandle } from './types.ts';

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 1000;

/** The revisions the watch wanted are gone; events between `fromRevision` and now were not seen. */
export class WatchCompactedError extends Error {
  readonly fromRevision: number;
  readonly compactRevision: number;
  constructor(prefix: string, fromRevision: number, compactRevision: number) {
    super(
      `watch ${prefix}: revision ${fromRevision + 1} compacted (compacted up to ${compactRevision}); resuming from now`,
    );
    this.name = 'WatchCompactedError';
    this.fromRevision = fromRevision;
    this.compactRevision = compactRevision;
  }
}

export type OnEvents = (events: WatchEvent[], revision: number) => void;
export type OnError = (err: Error) => void;

class Restart extends Error {}

export function startWatch(
  transport: Transport,
  prefix: string,
  fromRevision: number,
  onEvents: OnEvents,
  onError: OnError = () => {},
): WatchHandle {
  if (typeof prefix !== 'string') throw new TypeError(`watch: prefix must be a string, got ${typeof prefix}`);
  if (!Number.isSafeInteger(fromRevision) || fromRevision < 0)
    throw new TypeError(`watch ${prefix}: fromRevision must be a non-negative integer, got ${fromRevision}`);
  const ac = new AbortController();
  let last = fromRevision;
  let endpointOffset = 0;
  let delay = RECONNECT_MIN_MS;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      ac.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });

  const handleLine = async (line: string, endpoint: string, token: string | undefined): Promise<void> => {
    const msg = JSON.parse(line) as Wire;
    if (msg.error !== undefined) {
      const e = msg.error as Wire;
      throw new Error(String(e.message ?? JSON.stringify(e)));
    }
    const r = (msg.result ?? {}) as Wire;
    if (r.canceled === true) {
      const compact = int(r.compact_revision);
      if (compact > 0) {
        onError(new WatchCompactedError(prefix, last, compact));
        const now = await transport.call('/v3/kv/range', {
          key: b64(prefix),
          range_end: prefixRangeEnd(prefix),
          count_only: true,
        });
        last = headerRevision(now);
        throw new Restart();
      }
      const reason = String(r.cancel_reason ?? 'no reason given');
      // A watch refused for its token (expired: "invalid auth token"; or "permission denied"): authenticate again.
      if (token !== undefined && /permission denied|auth token/.test(reason))
        transport.invalidateToken(token);
      throw new Error(`watch canceled: ${reason}`);
    }
    if (r.created === true) {
      transport.answered(endpoint);
      delay = RECONNECT_MIN_MS;
    }
    const events = decodeEvents(r.events);
    if (events.length > 0) {
      last = events[events.length - 1].kv.modRevision;
      onEvents(events, last);
    }
  };

  const runOnce = async (endpoint: string): Promise<void> => {
    const { res, token } = await transport.stream(
      endpoint,
      '/v3/watch',
      {
        create_request: {
          key: b64(prefix),
          range_end: prefixRangeEnd(prefix),
          start_revision: String(last + 1),
        },
      },
      ac.signal,
    );
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`HTTP ${res.statusCode} ${text.slice(0, 200)}`);
    }
    let buffered = '';
    for await (const chunk of res.body) {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') await handleLine(line, endpoint, token);
        nl = buffered.indexOf('\n');
      }
    }
    throw new Error('watch stream ended');
  };

  const loop = async (): Promise<void> => {
    while (!ac.signal.aborted) {
      const order = transport.order();
      const endpoint = order[endpointOffset % order.length];
      try {
        await runOnce(endpoint);
      } catch (err) {
        if (ac.signal.aborted) return;
        if (err instanceof Restart) continue;
        onError(
          new Error(
            `watch ${prefix} via ${endpoint}: ${errorText(err)}; reconnecting from revision ${last + 1}`,
          ),
        );
        endpointOffset++;
        await pause(delay);
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
      }
    }
  };
  void loop();
  return { close: () => ac.abort() };
}
