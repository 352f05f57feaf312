import type { CoreEvent, GateHookName, HookName, Rollout } from './model.ts';

/** How a hook run ended (see runHook in src/hooks). */
export interface HookOutcome {
  ok: boolean;
  output: string;
  durationMs: number;
  error?: string;
}

/** A gating hook is asked for and not run yet for this rollout's revision. */
export function hookWanted(rollout: Rollout, hook: GateHookName, revision: number): boolean {
  return rollout.to === revision && !rollout.hooks?.[hook];
}

/** The rollout with its gating hook marked running (so the next reconcile waits, not re-asks). */
export function hookStarted(rollout: Rollout, hook: GateHookName, now: number): Rollout {
  return { ...rollout, hooks: { ...rollout.hooks, [hook]: { status: 'running', at: now } } };
}

/** The rollout with its gating hook's outcome, which the core acts on, and the event telling it. */
export function hookFinished(
  service: string,
  rollout: Rollout,
  hook: GateHookName,
  outcome: HookOutcome,
  now: number,
): { rollout: Rollout; events: CoreEvent[] } {
  const run = {
    status: outcome.ok ? ('ok' as const) : ('failed' as const),
    error: outcome.error,
    output: outcome.output,
    at: now,
  };
  return {
    rollout: { ...rollout, hooks: { ...rollout.hooks, [hook]: run } },
    events: [hookEvent(service, hook, rollout.to, outcome, ` (${outcome.durationMs} ms)`)],
  };
}

/** postPromotion runs after the rollout succeeded: its outcome is only told, there is nothing to abort. */
export function postPromotionEvent(service: string, revision: number, outcome: HookOutcome): CoreEvent {
  return hookEvent(service, 'postPromotion', revision, outcome);
}

/** `<hook> hook succeeded` or `... failed: <error>`, then `took`, then the hook's output on the next lines. */
function hookEvent(
  service: string,
  hook: HookName,
  revision: number,
  outcome: HookOutcome,
  took = '',
): CoreEvent {
  const result = outcome.ok ? 'succeeded' : `failed: ${outcome.error ?? ''}`;
  return {
    service,
    type: outcome.ok ? 'HookSucceeded' : 'HookFailed',
    revision,
    message: `${hook} hook ${result}${took}${outcome.output ? `\n${outcome.output}` : ''}`,
  };
}
