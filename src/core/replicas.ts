import type { IntOrPercent } from '../config/types.ts';

/**
 * Resolves an int-or-percent against `total` the way Kubernetes does: percentages round up for
 * maxSurge and down for maxUnavailable.
 */
export function resolveIntOrPercent(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const pct = Number(value.slice(0, -1));
  const exact = (pct * total) / 100;
  // Float noise (e.g. 0.1 * 30 = 3.0000000000000004) must not push a round-up over the edge.
  const fixed = Math.round(exact * 1e9) / 1e9;
  return roundUp ? Math.ceil(fixed) : Math.floor(fixed);
}

/** The surge/unavailable budget of a rolling update. */
export interface RollingBudget {
  maxSurge: number;
  maxUnavailable: number;
}

/**
 * Both limits resolved for `replicas`. When both come out 0 (e.g. "10%" of 3 replicas for
 * maxUnavailable and 0 surge), maxUnavailable becomes 1 so the rollout can move, as Kubernetes does.
 */
export function rollingBudget(
  maxSurge: IntOrPercent,
  maxUnavailable: IntOrPercent,
  replicas: number,
): RollingBudget {
  const surge = resolveIntOrPercent(maxSurge, replicas, true);
  let unavailable = resolveIntOrPercent(maxUnavailable, replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { maxSurge: surge, maxUnavailable: Math.min(unavailable, replicas) };
}
