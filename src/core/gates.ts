import { type AnalysisState, allPassing } from '../analysis/run.ts';
import type { AnalysisConfig, HooksConfig } from '../config/types.ts';
import type { Action, Rollout, ServiceSpec } from './model.ts';

/** What an analysis (or hook) means for the rollout now. */
export type Gate =
  | { kind: 'open' }
  | { kind: 'wait'; reason: string }
  | { kind: 'fail'; reason: string; byAnalysis?: boolean };

const OPEN: Gate = { kind: 'open' };

/**
 * An analysis as a gate: Failed fails the rollout; Inconclusive and Error pause it for a human
 * (an error measuring never counts as a pass); Running and Successful let it go on.
 */
export function analysisGate(state: AnalysisState | undefined): Gate {
  if (!state) return OPEN;
  if (state.phase === 'Failed')
    return { kind: 'fail', reason: `analysis failed: ${state.message}`, byAnalysis: true };
  if (state.phase === 'Inconclusive') {
    return { kind: 'wait', reason: `analysis inconclusive (${state.message}): promote to go on, or abort` };
  }
  if (state.phase === 'Error') {
    return { kind: 'wait', reason: `analysis error (${state.message}): promote to go on, or abort` };
  }
  return OPEN;
}

/** Promotion additionally needs every metric passing (when an analysis is configured). */
export function promotionGate(cfg: AnalysisConfig | undefined, state: AnalysisState | undefined): Gate {
  const g = analysisGate(state);
  if (g.kind !== 'open' || !cfg || !state) return g;
  if (state.phase === 'Successful' || allPassing(cfg, state)) return OPEN;
  const pending = cfg.metrics
    .filter((m) => state.metrics[m.name]?.latest?.status !== 'Pass')
    .map((m) => m.name);
  return { kind: 'wait', reason: `analysis: waiting for ${pending.join(', ')} to pass` };
}

export type HookName = keyof Pick<HooksConfig, 'preRollout' | 'prePromotion'>;

/**
 * A hook as a gate. Not run yet: the shell is asked to run it (action `runHook`) and the rollout
 * waits; ok: open; failed: the rollout fails with the hook's output.
 */
export function hookGate(spec: ServiceSpec, r: Rollout, name: HookName, actions: Action[]): Gate {
  if (!spec.hooks?.[name]) return OPEN;
  const h = r.hooks?.[name];
  if (!h) {
    actions.push({ type: 'runHook', service: spec.name, hook: name, revision: r.to });
    return { kind: 'wait', reason: `${name} hook running` };
  }
  if (h.status === 'running') return { kind: 'wait', reason: `${name} hook running` };
  if (h.status === 'failed') return { kind: 'fail', reason: `${name} hook failed: ${h.error ?? 'failed'}` };
  return OPEN;
}
