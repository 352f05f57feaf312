/** `notifications`: webhooks that receive rollout events of every service. */

import { type Ctx, describe, get, isObj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { checkHttpUrl } from './hooks.ts';
import { readDuration, readEach, readInt, readObj } from './read.ts';
import { didYouMean } from './suggest.ts';
import type { NotificationConfig, NotificationEvent } from './types.ts';

export const NOTIFICATION_KEYS = ['url', 'format', 'events', 'timeout', 'retries'] as const;
export const NOTIFICATION_FORMATS: readonly NotificationConfig['format'][] = ['json', 'slack'];
export const NOTIFICATION_EVENTS: readonly NotificationEvent[] = [
  'rollout-started',
  'step-completed',
  'paused',
  'promoted',
  'aborted',
  'rolled-back',
  'analysis-failed',
  'analysis-alert',
  'succeeded',
  'certificate-failed',
];

const HINT = 'a list of webhooks, each { url: http://..., format: json | slack, events: [...] }';

export function validateNotificationsAt(ctx: Ctx, path: Path, raw: unknown): NotificationConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    report(ctx, path, `must be ${HINT}, ${describe(raw)}`);
    return [];
  }
  return readEach(raw, path, (p, item) => validateNotification(ctx, p, item));
}

function validateNotification(ctx: Ctx, path: Path, raw: unknown): NotificationConfig | undefined {
  if (!isObj(raw)) {
    report(
      ctx,
      path,
      `must be a mapping with url (and optionally format, events, timeout, retries), ${describe(raw)}`,
    );
    return undefined;
  }
  const o = readObj(ctx, path, raw, NOTIFICATION_KEYS);
  if (o === undefined) return undefined;
  const url = get(o, 'url');
  if (url === undefined) report(ctx, [...path, 'url'], 'is required (an http:// or https:// URL)');
  else {
    const error = checkHttpUrl(url);
    if (error) report(ctx, [...path, 'url'], error);
  }
  const rawFormat = get(o, 'format') ?? D.DEFAULT_NOTIFICATION_FORMAT;
  let format: NotificationConfig['format'] = D.DEFAULT_NOTIFICATION_FORMAT;
  if (typeof rawFormat === 'string' && (NOTIFICATION_FORMATS as readonly string[]).includes(rawFormat)) {
    format = rawFormat as NotificationConfig['format'];
  } else {
    const hint = typeof rawFormat === 'string' ? didYouMean(rawFormat, NOTIFICATION_FORMATS) : '';
    report(ctx, [...path, 'format'], `must be "json" or "slack", ${describe(rawFormat)}${hint}`);
  }
  const n: NotificationConfig = {
    url: typeof url === 'string' ? url : '',
    format,
    timeoutMs: readDuration(ctx, o, path, 'timeout', D.DEFAULT_NOTIFICATION_TIMEOUT),
    retries: readInt(ctx, o, path, 'retries', D.DEFAULT_NOTIFICATION_RETRIES, 0),
  };
  const rawEvents = get(o, 'events');
  if (rawEvents !== undefined) {
    const ep = [...path, 'events'];
    if (!Array.isArray(rawEvents) || rawEvents.length === 0) {
      report(
        ctx,
        ep,
        `must be a non-empty list of events (omit it for all: ${NOTIFICATION_EVENTS.join(', ')}), ${describe(rawEvents)}`,
      );
    } else {
      const events: NotificationEvent[] = [];
      rawEvents.forEach((e: unknown, i) => {
        if (typeof e === 'string' && (NOTIFICATION_EVENTS as readonly string[]).includes(e)) {
          if (!events.includes(e as NotificationEvent)) events.push(e as NotificationEvent);
          return;
        }
        const what =
          typeof e === 'string'
            ? `unknown event ${JSON.stringify(e)}${didYouMean(e, NOTIFICATION_EVENTS)}`
            : `must be an event name, ${describe(e)}`;
        report(ctx, [...ep, String(i)], `${what} (events: ${NOTIFICATION_EVENTS.join(', ')})`);
      });
      n.events = events;
    }
  }
  return n;
}
