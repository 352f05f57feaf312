/** The request bodies of a notice: the `json` document or a Slack incoming-webhook message. */
import type { NotificationConfig, NotificationEvent } from '../config/types.ts';
import type { NoticeDocument, RolloutNotice } from './notice.ts';

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
  'analysis-alert': 'analysis alert',
  succeeded: 'succeeded',
  'certificate-failed': 'certificate failed',
};

const EVENT_EMOJI: Record<NotificationEvent, string> = {
  'rollout-started': ':rocket:',
  'step-completed': ':arrow_forward:',
  paused: ':double_vertical_bar:',
  promoted: ':arrow_up:',
  aborted: ':x:',
  'rolled-back': ':rewind:',
  'analysis-failed': ':warning:',
  'analysis-alert': ':bell:',
  succeeded: ':white_check_mark:',
  'certificate-failed': ':closed_lock_with_key:',
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
