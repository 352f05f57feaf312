import type { AnalysisState } from '../analysis/run.ts';
import type { RunSpec, ServiceConfig, TrafficConfig } from '../config/types.ts';

/**
 * What happened to a revision: `pending` (created, not rolled out yet), `progressing` (its rollout
 * runs), `stable` (serving), `superseded` (a later revision replaced it), `failed` (its rollout
 * failed and was rolled back).
 */
export type RevisionOutcome = 'pending' | 'progressing' | 'stable' | 'superseded' | 'failed' | 'aborted';

/** An immutable version + run spec of a service. */
export interface Revision {
  number: number;
  version: string;
  run: RunSpec;
  createdAt: number;
  outcome: RevisionOutcome;
  /** Why it got its outcome (failure reason, "undo of revision 2", ...). */
  message?: string;
}

/** deploy: a new revision; undo: back to an older one on request; rollback: automatic, after a failure. */
export type RolloutKind = 'deploy' | 'undo' | 'rollback';
export type RolloutPhase = 'Progressing' | 'Succeeded' | 'Failed' | 'Aborted';

/** The transition of a service from one revision to another. */
export interface Rollout {
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
  /** Canary: index of the current step (steps.length = final promotion). */
  stepIndex?: number;
  stepStartedAt?: number;
  /** Canary: share of traffic (0..100) on the canary now. */
  canaryWeight?: number;
  /** Canary: mirroring set by a `mirror` step. */
  mirror?: { percent: number; methods?: string[]; pathPrefix?: string };
  /** Set by `cutover pause`; freezes the steps (weights stay). */
  manualPause?: boolean;
  /** `cutover promote` was asked: pass the current indefinite pause (canary) or switch (blue-green). */
  promoteRequested?: boolean;
  /** `promote --full`: skip the remaining steps. */
  fullPromote?: boolean;
  /** Blue-green: when the preview side became fully ready. */
  previewReadyAt?: number;
  /** Blue-green: when traffic switched to the new side (the old side stays warm for scaleDownDelay). */
  switchedAt?: number;
  /** What the rollout waits for now, for status (e.g. "pause: waiting for promote"). */
  waitingFor?: string;
  /** The service's analysis over the whole rollout (blue-green: before the switch, then after it). */
  analysis?: AnalysisState;
  /** Blue-green: which side `analysis` judges. */
  analysisStage?: 'pre' | 'post';
  /** The analysis of the current `analysis` step (canary). */
  stepAnalysis?: AnalysisState;
  /** Hooks run for this rollout and their outcome. */
  hooks?: Partial<Record<'preRollout' | 'prePromotion', HookRun>>;
}

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
  /** Run a gating hook; the shell records `running`, then `ok`/`failed`, in rollout.hooks. */
  | { type: 'runHook'; service: string; hook: 'preRollout' | 'prePromotion'; revision: number };

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
    | 'ConfigApplied'
    | 'AnalysisFailed'
    | 'HookFailed'
    | 'HookSucceeded';
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

export function findRevision(state: ServiceState, n: number): Revision | undefined {
  return state.revisions.find((r) => r.number === n);
}
