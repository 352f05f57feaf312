/**
 * Rollout notifications: webhooks (`NotificationConfig`) receive a JSON document or a Slack
 * incoming-webhook message for each selected rollout event. `Notifier.notify` is fire-and-forget:
 * it never throws and never waits (delivery and retries: webhook.ts).
 */
import type { NotificationConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { RolloutNotice } from './notice.ts';
import { renderNotice } from './payload.ts';
import { Webhook } from './webhook.ts';

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
