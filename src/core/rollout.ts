import type { AnalysisState } from '../analysis/run.ts';
import type {
  BlueGreenRollout,
  CanaryRollout,
  RollingRollout,
  Rollout,
  RolloutCommon,
  ServiceState,
  StrategyType,
} from './model.ts';

/** The fields every strategy shares, without the strategy's own. */
function commonPart(rollout: RolloutCommon): RolloutCommon {
  const common: RolloutCommon = {
    kind: rollout.kind,
    from: rollout.from,
    to: rollout.to,
    phase: rollout.phase,
    startedAt: rollout.startedAt,
    lastProgressAt: rollout.lastProgressAt,
    progressKey: rollout.progressKey,
  };
  if (rollout.finishedAt !== undefined) common.finishedAt = rollout.finishedAt;
  if (rollout.message !== undefined) common.message = rollout.message;
  if (rollout.manualPause !== undefined) common.manualPause = rollout.manualPause;
  if (rollout.waitingFor !== undefined) common.waitingFor = rollout.waitingFor;
  if (rollout.hooks !== undefined) common.hooks = rollout.hooks;
  return common;
}

/**
 * Any rollout-like record as a rollout of `strategy`: the shared fields are kept, the strategy's
 * own fields are taken when present and defaulted when not (a canary starts at step 0, weight 0).
 * Used for rows written before rollouts were tagged, and once when the configured strategy type
 * of a service changed while its rollout ran (`apply`, or another config at start-up).
 */
export function asStrategy(common: RolloutCommon, strategy: StrategyType): Rollout {
  const rollout = common as RolloutCommon & Record<string, unknown>;
  // A drill is a canary whatever the service's strategy: converted, it would promote its copy.
  if (rollout.strategy === strategy || (rollout.kind === 'drill' && rollout.strategy === 'canary'))
    return common as Rollout;
  return fromRecord(rollout, strategy);
}

function fromRecord(rollout: RolloutCommon & Record<string, unknown>, strategy: StrategyType): Rollout {
  const common = commonPart(rollout);
  const analysis = rollout.analysis as AnalysisState | undefined;
  if (strategy === 'rolling') {
    const rolling: RollingRollout = { ...common, strategy };
    if (analysis !== undefined) rolling.analysis = analysis;
    if (typeof rollout.cleared === 'number') rolling.cleared = rollout.cleared;
    return rolling;
  }
  if (strategy === 'blueGreen') {
    const blueGreen: BlueGreenRollout = { ...common, strategy };
    if (analysis !== undefined) blueGreen.analysis = analysis;
    if (rollout.analysisStage !== undefined)
      blueGreen.analysisStage = rollout.analysisStage as BlueGreenRollout['analysisStage'];
    if (rollout.promoteRequested !== undefined)
      blueGreen.promoteRequested = rollout.promoteRequested === true;
    if (rollout.fullPromote !== undefined) blueGreen.fullPromote = rollout.fullPromote === true;
    if (typeof rollout.previewReadyAt === 'number') blueGreen.previewReadyAt = rollout.previewReadyAt;
    if (typeof rollout.switchedAt === 'number') blueGreen.switchedAt = rollout.switchedAt;
    return blueGreen;
  }
  const canary: CanaryRollout = {
    ...common,
    strategy,
    stepIndex: typeof rollout.stepIndex === 'number' ? rollout.stepIndex : 0,
    stepStartedAt: typeof rollout.stepStartedAt === 'number' ? rollout.stepStartedAt : rollout.startedAt,
    canaryWeight: typeof rollout.canaryWeight === 'number' ? rollout.canaryWeight : 0,
  };
  if (analysis !== undefined) canary.analysis = analysis;
  if (rollout.stepAnalysis !== undefined) canary.stepAnalysis = rollout.stepAnalysis as AnalysisState;
  if (rollout.mirror !== undefined) canary.mirror = rollout.mirror as CanaryRollout['mirror'];
  if (rollout.fullPromote !== undefined) canary.fullPromote = rollout.fullPromote === true;
  return canary;
}

/** The strategy an untagged stored rollout was written for: told by its fields, else the service's. */
function inferStrategy(rollout: Record<string, unknown>, fallback: StrategyType): StrategyType {
  if (rollout.strategy === 'rolling' || rollout.strategy === 'blueGreen' || rollout.strategy === 'canary') {
    return rollout.strategy;
  }
  if ('stepIndex' in rollout || 'canaryWeight' in rollout) return 'canary';
  if ('switchedAt' in rollout || 'previewReadyAt' in rollout || 'analysisStage' in rollout)
    return 'blueGreen';
  return fallback;
}

/**
 * A service's state as stored, in today's shape. Rows written before rollouts were tagged by
 * strategy carry every field on one object; they get the tag (and a canary's defaults) here.
 */
export function fromStored(state: ServiceState, strategy: StrategyType): ServiceState {
  const convert = (rollout: Rollout | undefined, fallback: StrategyType): Rollout | undefined => {
    if (!rollout) return rollout;
    const record = rollout as unknown as RolloutCommon & Record<string, unknown>;
    if (typeof record.strategy === 'string') return rollout;
    return fromRecord(record, inferStrategy(record, fallback));
  };
  const rollout = convert(state.rollout, strategy);
  const lastRollout = convert(state.lastRollout, strategy);
  if (rollout === state.rollout && lastRollout === state.lastRollout) return state;
  const next: ServiceState = { ...state };
  if (rollout) next.rollout = rollout;
  if (lastRollout) next.lastRollout = lastRollout;
  return next;
}

/** The running analyses of a rollout. */
export function analysesOf(rollout: Rollout): { analysis?: AnalysisState; stepAnalysis?: AnalysisState } {
  if (rollout.strategy === 'canary')
    return { analysis: rollout.analysis, stepAnalysis: rollout.stepAnalysis };
  return { analysis: rollout.analysis };
}

/** The service's rollout when it is a canary. */
export function canaryRollout(state: ServiceState): CanaryRollout | undefined {
  return state.rollout?.strategy === 'canary' ? state.rollout : undefined;
}

/** The service's rollout when it is a blue-green switch. */
export function blueGreenRollout(state: ServiceState): BlueGreenRollout | undefined {
  return state.rollout?.strategy === 'blueGreen' ? state.rollout : undefined;
}

/** The same rollout (not a later one of the same service): same target, same start. */
export function sameRollout(a: Rollout | undefined, b: Rollout): boolean {
  return a !== undefined && a.to === b.to && a.startedAt === b.startedAt;
}
