/** Kubernetes-compatible resolution of a rolling strategy's maxSurge / maxUnavailable. */
import type { IntOrPercent } from './types.ts';

/** An integer as is, or a percentage of `total`, rounded up or down. */
export function resolveIntOrPercent(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const pct = Number.parseInt(value, 10);
  const exact = (pct * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/**
 * Absolute bounds for a rollout of `replicas` instances, as Kubernetes computes them: maxSurge
 * percentages round up, maxUnavailable percentages round down, and when both come out as 0,
 * maxUnavailable becomes 1 so that the rollout can make progress. maxUnavailable is capped at
 * `replicas`.
 */
export function resolveRollingBounds(
  strategy: { maxSurge: IntOrPercent; maxUnavailable: IntOrPercent },
  replicas: number,
): { maxSurge: number; maxUnavailable: number } {
  const maxSurge = resolveIntOrPercent(strategy.maxSurge, replicas, true);
  let maxUnavailable = Math.min(resolveIntOrPercent(strategy.maxUnavailable, replicas, false), replicas);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}
