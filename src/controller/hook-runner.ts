import type { ServiceConfig } from '../config/types.ts';
import {
  type HookOutcome,
  hookFinished,
  hookStarted,
  hookWanted,
  postPromotionEvent,
} from '../core/hook-runs.ts';
import { type Action, findRevision } from '../core/model.ts';
import { runHook } from '../hooks/run.ts';
import type { Logger } from '../log/logger.ts';
import type { InstanceStatus } from '../runtime/types.ts';
import type { ServiceLedger } from './ledger.ts';

type HookAction = Extract<Action, { type: 'runHook' }>;

export interface HookRunnerOptions {
  ledger: ServiceLedger;
  log: Logger;
  now: () => number;
  service: (name: string) => ServiceConfig | undefined;
  instances: (service: string) => InstanceStatus[];
  isLeaving: (id: string) => boolean;
}

/**
 * Runs the hooks the core asks for. A gating hook's run and outcome are recorded in the rollout
 * (the core acts on them); postPromotion's outcome is an event, there is nothing left to abort.
 */
export class HookRunner {
  private readonly options: HookRunnerOptions;

  constructor(options: HookRunnerOptions) {
    this.options = options;
  }

  run(action: HookAction): void {
    const { ledger, log, now } = this.options;
    const { service, hook, revision } = action;
    const svc = this.options.service(service);
    if (!svc) return;
    if (hook === 'postPromotion') {
      this.start(svc, action, (i) => i.ready)?.then(
        (outcome) => ledger.tell([postPromotionEvent(service, revision, outcome)]),
        (err: unknown) => log.error('postPromotion hook failed to run', { service, err }),
      );
      return;
    }
    const rollout = ledger.state(service)?.rollout;
    if (!rollout || !svc.hooks?.[hook] || !hookWanted(rollout, hook, revision)) return;
    const startedAt = now();
    ledger.updateRollout(service, rollout, (current) => ({
      rollout: hookStarted(current, hook, startedAt),
      events: [],
    }));
    this.start(svc, action, (i) => i.ready && !this.options.isLeaving(i.id))
      ?.catch(
        (err: unknown): HookOutcome => ({
          ok: false,
          output: '',
          durationMs: 0,
          error: (err as Error).message,
        }),
      )
      .then((outcome) => {
        const at = now();
        ledger.updateRollout(service, rollout, (current) =>
          hookFinished(service, current, hook, outcome, at),
        );
      });
  }

  /** Runs the hook against a ready instance of the revision (none before it has one). */
  private start(svc: ServiceConfig, action: HookAction, ready: (i: InstanceStatus) => boolean) {
    const config = svc.hooks?.[action.hook];
    if (!config) return undefined;
    const state = this.options.ledger.state(svc.name);
    const version = (state && findRevision(state, action.revision)?.version) ?? '';
    const target = this.options.instances(svc.name).find((i) => i.revision === action.revision && ready(i));
    return runHook(config, {
      service: svc.name,
      revision: action.revision,
      version,
      targetUrl: target ? `http://127.0.0.1:${target.port}` : undefined,
      cwd: svc.run.cwd,
      log: this.options.log.child({ service: svc.name, hook: action.hook }),
    });
  }
}
