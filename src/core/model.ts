import type { AnalysisState } from '../analysis/run.ts';
import type {
  DrillFault,
  LoadBalancer,
  RunSpec,
  ServiceConfig,
  TrafficConfig,
  TrafficPolicy,
} from '../config/types.ts';

export type { DrillFault };

/**
 * What happened to a revision: `pending` (created, not rolled out yet), `progressing` (its rollout
 * runs), `stable` (serving), `superseded` (a later revision replaced it), `failed` (its rollout
 * failed and was rolled back).
 */
export type RevisionOutcome = 'pending' | 'progressing' | 'stable' | 'superseded' | 'failed' | 'aborted';

/** How the analysis of a finished rollout ended: an analysis phase, or Unfinished (ended by an abort, a deadline...). */
export type AnalysisVerdict = 'Successful' | 'Failed' | 'Inconclusive' | 'Error' | 'Unfinished';

/** One metric's last result in a summary. */
export interface MetricSummary {
  name: string;
  status: string;
  /** Requests (latency samples for latency metrics) judged; provider metrics: measurements. */
  samples: number;
  value?: number | string | boolean | null;
  /** Set for `onFail: alert` metrics that failed and alerted. */
  alerted?: boolean;
}

/** The analysis of one rollout as kept in the revision history. */
export interface AnalysisSummary {
  verdict: AnalysisVerdict;
  /** When the first analysis of the rollout started (ms since epoch). */
  startedAt: number;
  /** From the first analysis start to the verdict; absent when Unfinished. */
  timeToVerdictMs?: number;
  /** Analyses run: a rolling update with gate everyBatch judges once per batch. */
  runs: number;
  /** The last analysis's metrics, in config order. */
  metrics: MetricSummary[];
  message: string;
}

/** An immutable version + run spec of a service. */
export interface Revision {
  number: number;
  version: string;
  run: RunSpec;
  createdAt: number;
  outcome: RevisionOutcome;
  /** Why it got its outcome (failure reason, "undo of revision 2", ...). */
  message?: string;
  /** How the analysis of its last rollout ended (verdict per metric, samples, time to verdict). */
  analysis?: AnalysisSummary;
  /** A rollback drill's copy of the stable revision: never becomes stable. */
  drill?: boolean;
}

/** A drill's settings and, once it ended, its outcome. */
export interface DrillSetting {
  fault: DrillFault;
  /** Share of traffic (0..100) the drill's canary takes once ready. */
  weight: number;
  /** The analysis must take the canary back within this (from the start of the drill). */
  timeoutMs: number;
  /** aborted: analysis took it back (the drill passed); notAborted: the time ran out first. */
  outcome?: 'aborted' | 'notAborted';
  /** When the canary first took traffic. */
  trafficAt?: number;
}

/**
 * deploy: a new revision; undo: back to an older one on request; rollback: automatic, after a
 * failure; drill: a canary of the stable revision with injected faults that analysis must take back
 * (`cutover drill`, src/core/drill.ts).
 */
export type RolloutKind = 'deploy' | 'undo' | 'rollback' | 'drill';
export type RolloutPhase = 'Progressing' | 'Succeeded' | 'Failed' | 'Aborted';

/** What every rollout has, whatever its strategy. */
export interface RolloutCommon {
  kind: RolloutKind;
  from: number | undefined;
  to: number;
  phase: RolloutPhase;
  startedAt: number;
  /** Last time the rollout moved (an instance started, became available, or an old one left). */
  lastProgressAt: number;
  /** Counts that define "progress"; a change of this key is progress. */
  progressKey: string;
  finishedAt?: number;
  message?: string;
  /** Set by `cutover pause`; freezes the steps (weights stay). */
  manualPause?: boolean;
  /** What the rollout waits for now, for status (e.g. "pause: waiting for promote"). */
  waitingFor?: string;
  /** Hooks run for this rollout and their outcome. */
  hooks?: Partial<Record<GateHookName, HookRun>>;
}

/** A rolling update: instances are replaced in surge/unavailable steps; nothing else to track. */
export interface RollingRollout extends RolloutCommon {
  strategy: 'rolling';
  /** With `analysis`: the new revision's instances judged against the old revision's. */
  analysis?: AnalysisState;
  /** analysis.gate everyBatch: how many new instances may run until the next verdict. */
  cleared?: number;
  /** analysis.gate everyBatch: the batches that passed so far, summarized. */
  judged?: AnalysisSummary;
}

/** A blue-green switch: the preview side starts beside the active one, then takes all traffic at once. */
export interface BlueGreenRollout extends RolloutCommon {
  strategy: 'blueGreen';
  /** `cutover promote` was asked: switch once the preview side has full size and is ready. */
  promoteRequested?: boolean;
  /** `promote --full`: skip the analysis gate of the switch. */
  fullPromote?: boolean;
  /** When the preview side became fully ready. */
  previewReadyAt?: number;
  /** When traffic switched to the new side (the old side stays warm for scaleDownDelay). */
  switchedAt?: number;
  /** The service's analysis: before the switch it judges the preview side, after it the new active side. */
  analysis?: AnalysisState;
  /** Which side `analysis` judges. */
  analysisStage?: 'pre' | 'post';
}

/** A canary: steps move a share of traffic (and mirrored copies) to the new revision. */
export interface CanaryRollout extends RolloutCommon {
  strategy: 'canary';
  /** Index of the current step (steps.length = final promotion). */
  stepIndex: number;
  stepStartedAt: number;
  /** Share of traffic (0..100) on the canary now. */
  canaryWeight: number;
  /** Mirroring set by a `mirror` step. */
  mirror?: MirrorSetting;
  /** `promote --full`: skip the remaining steps. */
  fullPromote?: boolean;
  /** The service's analysis over the whole rollout. */
  analysis?: AnalysisState;
  /** The analysis of the current `analysis` step. */
  stepAnalysis?: AnalysisState;
  /** Set on a `cutover drill` canary (kind drill): the fault, and how the drill ended. */
  drill?: DrillSetting;
  /**
   * Fleet mode: the fleet's leader lets this host run only the steps with an index below this
   * (steps.length + 1 lets it promote), so hosts stay at most one step apart; absent on one host.
   */
  fleetStep?: number;
}

/** Copies of requests sent to the canary by a `mirror` step. */
export interface MirrorSetting {
  percent: number;
  methods?: string[];
  pathPrefix?: string;
}

/** The transition of a service from one revision to another, tagged by the service's strategy. */
export type Rollout = RollingRollout | BlueGreenRollout | CanaryRollout;
export type StrategyType = Rollout['strategy'];

/** Hooks that gate a rollout (postPromotion runs after it and gates nothing). */
export type GateHookName = 'preRollout' | 'prePromotion';
export type HookName = GateHookName | 'postPromotion';

/** A hook's run, recorded in the rollout. */
export interface HookRun {
  status: 'running' | 'ok' | 'failed';
  error?: string;
  output?: string;
  at: number;
}

/** Healthy: serving the stable revision at full count; Progressing: a rollout runs; Degraded: something failed. */
export type ServicePhase = 'Healthy' | 'Progressing' | 'Paused' | 'Degraded' | 'Aborted';

/** Durable state of one service: everything needed to resume after a restart. */
export interface ServiceState {
  name: string;
  revisions: Revision[];
  /** The revision the service runs when no rollout is in progress. */
  stable: number;
  rollout?: Rollout;
  /** The most recent finished rollout (for status and `--wait`). */
  lastRollout?: Rollout;
  phase: ServicePhase;
  message?: string;
  /** Traffic rules changed at runtime (`cutover rules`); replaces the config's `traffic` while set. */
  traffic?: TrafficConfig;
  /** Traffic policy changed at runtime (`cutover limits`); replaces the config's policy keys while set. */
  policy?: RuntimePolicy;
}

/**
 * A service's whole traffic policy as one value: the balancer and the rest. A runtime override is a
 * whole replacement, so a key it leaves out is off, not inherited from the config.
 */
export interface RuntimePolicy {
  loadBalancer: LoadBalancer;
  policy?: TrafficPolicy;
}

/** What the controller sees of an instance when it plans. */
export interface ObservedInstance {
  id: string;
  revision: number;
  /** starting: not ready yet (or restarting); ready: passes readiness; draining: leaving (not routed). */
  state: 'starting' | 'ready' | 'draining';
  readySince?: number;
  restarts: number;
}

/** What the core asks the shell to do. */
export type Action =
  | { type: 'start'; service: string; revision: number; count: number }
  | { type: 'drain'; service: string; instance: string; reason: string }
  /**
   * Run a hook. A gating hook's outcome is recorded (`running`, then `ok`/`failed`) in
   * rollout.hooks and the core acts on it; postPromotion's outcome is only an event.
   */
  | { type: 'runHook'; service: string; hook: HookName; revision: number };

/** A domain event for the event log (and later notifications). */
export interface CoreEvent {
  service: string;
  type:
    | 'RolloutStarted'
    | 'RolloutSucceeded'
    | 'RolloutFailed'
    | 'RollbackStarted'
    | 'InstanceStarted'
    | 'InstanceDraining'
    | 'StepCompleted'
    | 'RolloutPaused'
    | 'RolloutResumed'
    | 'RolloutPromoted'
    | 'RolloutAborted'
    | 'TrafficSwitched'
    | 'TrafficChanged'
    | 'PolicyChanged'
    | 'ConfigApplied'
    | 'AnalysisFailed'
    | 'AnalysisAlert'
    | 'HookFailed'
    | 'HookSucceeded'
    | 'CertificateIssued'
    | 'CertificateFailed'
    | 'DrillStarted'
    | 'DrillFinished'
    | 'InstanceEjected'
    | 'InstanceReturned';
  message: string;
  revision?: number;
}

/** The output of one pure planning step. */
export interface Plan {
  state: ServiceState;
  actions: Action[];
  events: CoreEvent[];
}

/** The parts of a service's config the planner needs. */
export type ServiceSpec = Pick<ServiceConfig, 'name' | 'replicas' | 'strategy' | 'revisionHistoryLimit'> &
  Partial<Pick<ServiceConfig, 'traffic' | 'analysis' | 'hooks'>>;

/** The revision currently targeted: the rollout's, else the stable one. */
export function targetRevision(state: ServiceState): number {
  return state.rollout?.to ?? state.stable;
}

export function findRevision(state: ServiceState, number: number): Revision | undefined {
  return state.revisions.find((revision) => revision.number === number);
}
