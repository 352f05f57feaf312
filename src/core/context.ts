import type { ObservedInstance, ServiceSpec, ServiceState } from './model.ts';
import { readyCount } from './scale.ts';

/** What one reconcile of a canary or blue-green rollout works on. */
export interface ReconcileContext<Strategy> {
  spec: ServiceSpec;
  strategy: Strategy;
  state: ServiceState;
  instances: ObservedInstance[];
  now: number;
  /** Ready instances of the new revision. */
  ready: number;
}

export function reconcileContext<Strategy>(
  spec: ServiceSpec,
  strategy: Strategy,
  state: ServiceState,
  revision: number,
  instances: ObservedInstance[],
  now: number,
): ReconcileContext<Strategy> {
  return { spec, strategy, state, instances, now, ready: readyCount(instances, revision) };
}
