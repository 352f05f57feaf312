import { type AnalysisState, allPassing } from '../analysis/run.ts';
import type { AnalysisConfig } from '../config/types.ts';
import type { Action, GateHookName, Plan, Rollout, ServiceSpec, ServiceState } from './model.ts';
import { failRollout } from './outcome.ts';

/** What an analysis (or hook) means for the rollout now. */
export type Gate =
  | { kind: 'open' }
  | { kind: 'wait'; reason: string; actions?: Action[] }
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
  const gate = analysisGate(state);
  if (gate.kind !== 'open' || !cfg || !state) return gate;
  if (state.phase === 'Successful' || allPassing(cfg, state)) return OPEN;
  const pending = cfg.metrics
    .filter(
      (metric) =>
        state.metrics[metric.name]?.latest?.status !== 'Pass' && !state.alerts?.includes(metric.name),
    )
    .map((metric) => metric.name);
  return { kind: 'wait', reason: `analysis: waiting for ${pending.join(', ')} to pass` };
}

/**
 * A hook as a gate. Not run yet: the rollout waits and the shell is asked to run it (the gate's
 * `actions`); ok: open; failed: the rollout fails with the hook's output.
 */
export function hookGate(spec: ServiceSpec, rollout: Rollout, name: GateHookName): Gate {
  if (!spec.hooks?.[name]) return OPEN;
  const run = rollout.hooks?.[name];
  if (!run) {
    return {
      kind: 'wait',
      reason: `${name} hook running`,
      actions: [{ type: 'runHook', service: spec.name, hook: name, revision: rollout.to }],
    };
  }
  if (run.status === 'running') return { kind: 'wait', reason: `${name} hook running` };
  if (run.status === 'failed')
    return { kind: 'fail', reason: `${name} hook failed: ${run.error ?? 'failed'}` };
  return OPEN;
}

/**
 * The preRollout hook (a migration or similar) must succeed before the new revision runs at all;
 * written once for every strategy. A rollback skips it: it returns to a revision that ran. No
 * plan means the gate is open.
 */
export function preRolloutGate(
  spec: ServiceSpec,
  state: ServiceState,
  rollout: Rollout,
  now: number,
): Plan | undefined {
  if (rollout.kind === 'rollback') return undefined;
  const gate = hookGate(spec, rollout, 'preRollout');
  if (gate.kind === 'open') return undefined;
  if (gate.kind === 'fail') return failRollout(state, rollout, now, gate.reason);
  // Time spent on the hook is not the new revision's lack of progress. A rolling update's phase
  // follows its instances only (an operator's pause shows until it ends).
  const waiting: Rollout = { ...rollout, waitingFor: gate.reason, lastProgressAt: now };
  const phase = rollout.strategy === 'rolling' ? state.phase : 'Progressing';
  return {
    state: { ...state, rollout: waiting, phase, message: gate.reason },
    actions: gate.actions ?? [],
    events: [],
  };
}
