import type { CoreEvent, Rollout, ServiceState } from '../core/model.ts';

/** A rollout's change decided by the core, and the events that explain it. */
export interface RolloutChange {
  rollout: Rollout;
  events: CoreEvent[];
}

/**
 * The services' state as the controller's helpers (hooks, analysis) see it: read it, change a
 * running rollout, tell events. Every change is stored before anything acts on it.
 */
export interface ServiceLedger {
  state(service: string): ServiceState | undefined;
  /** Replaces the rollout with `change(current)` if the same rollout still runs; stores it. */
  updateRollout(service: string, rollout: Rollout, change: (current: Rollout) => RolloutChange): void;
  /** Stores events (and tells the webhooks). */
  tell(events: CoreEvent[]): void;
}
