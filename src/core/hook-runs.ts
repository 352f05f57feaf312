import type { CoreEvent, GateHookName, Rollout } from './model.ts';

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
  const message = `${hook} hook ${outcome.ok ? 'succeeded' : `failed: ${outcome.error ?? ''}`} (${outcome.durationMs} ms)${outcome.output ? `\n${outcome.output}` : ''}`;
  return {
    rollout: { ...rollout, hooks: { ...rollout.hooks, [hook]: run } },
    events: [{ service, type: outcome.ok ? 'HookSucceeded' : 'HookFailed', revision: rollout.to, message }],
  };
}

/** postPromotion runs after the rollout succeeded: its outcome is only told, there is nothing to abort. */
export function postPromotionEvent(service: string, revision: number, outcome: HookOutcome): CoreEvent {
  return {
    service,
    type: outcome.ok ? 'HookSucceeded' : 'HookFailed',
    revision,
    message: `postPromotion hook ${outcome.ok ? 'succeeded' : `failed: ${outcome.error ?? ''}`}${outcome.output ? `\n${outcome.output}` : ''}`,
  };
}
