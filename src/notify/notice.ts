/** A rollout notice: what happened to which service, and how a core event becomes one. */
import type { NotificationEvent } from '../config/types.ts';

export interface RolloutNotice {
  event: NotificationEvent;
  service: string;
  revision?: number;
  version?: string;
  message: string;
  /** Epoch milliseconds. */
  time: number;
  details?: Record<string, unknown>;
}

/** The `json` format's body. */
export interface NoticeDocument {
  event: NotificationEvent;
  service: string;
  revision?: number;
  version?: string;
  message: string;
  /** ISO 8601. */
  time: string;
  details?: Record<string, unknown>;
}

/** The Cutover core event types (src/core/model.ts CoreEvent) that become notifications. */
const EVENT_MAP: Record<string, NotificationEvent> = {
  RolloutStarted: 'rollout-started',
  StepCompleted: 'step-completed',
  RolloutPaused: 'paused',
  RolloutPromoted: 'promoted',
  TrafficSwitched: 'promoted',
  RolloutAborted: 'aborted',
  // A failed rollout (progress deadline, failed hook, failed analysis) ends without success just like
  // an abort: receivers watching `aborted` must see it. The message says "rollout failed: ...", and
  // an automatic rollback, when one follows, is announced separately as `rolled-back`.
  RolloutFailed: 'aborted',
  RollbackStarted: 'rolled-back',
  RolloutSucceeded: 'succeeded',
  AnalysisFailed: 'analysis-failed',
  AnalysisAlert: 'analysis-alert',
  CertificateFailed: 'certificate-failed',
};

/**
 * Maps a core event to a notice, or undefined for the types not notified (instance, traffic weight,
 * rules and policy, config and hook events, resumes). `RolloutFailed` maps to `aborted` (see above). `time` is now.
 */
export function noticeFromEvent(
  e: { service: string; type: string; revision?: number; message: string },
  version?: string,
): RolloutNotice | undefined {
  const event = Object.hasOwn(EVENT_MAP, e.type) ? EVENT_MAP[e.type] : undefined;
  if (!event) return undefined;
  const notice: RolloutNotice = { event, service: e.service, message: e.message, time: Date.now() };
  if (e.revision !== undefined) notice.revision = e.revision;
  if (version !== undefined) notice.version = version;
  return notice;
}
