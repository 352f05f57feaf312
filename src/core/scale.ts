import type { Action, ObservedInstance } from './model.ts';

/** Live (not draining) instances of `revision`. */
export function liveOf(instances: ObservedInstance[], revision: number): ObservedInstance[] {
  return instances.filter((i) => i.revision === revision && i.state !== 'draining');
}

/** Ready instances of `revision` (not draining). */
export function readyCount(instances: ObservedInstance[], revision: number): number {
  return instances.filter((i) => i.revision === revision && i.state === 'ready').length;
}

/** Start or drain instances of one revision to reach `want` live ones (unready ones go first). */
export function scaleRevision(
  service: string,
  instances: ObservedInstance[],
  revision: number,
  want: number,
  reason: string,
): Action[] {
  const live = liveOf(instances, revision);
  if (live.length < want) return [{ type: 'start', service, revision, count: want - live.length }];
  return [...live]
    .sort(byRemovalPreference)
    .slice(0, live.length - want)
    .map((i) => ({ type: 'drain', service, instance: i.id, reason }));
}

/** Drains every live instance whose revision is not in `keep`. */
export function drainOthers(
  service: string,
  instances: ObservedInstance[],
  keep: number[],
  reason: string,
): Action[] {
  return instances
    .filter((i) => i.state !== 'draining' && !keep.includes(i.revision))
    .map((i) => ({ type: 'drain', service, instance: i.id, reason }));
}

/** Order for removal, least useful first: starting before ready, then the most recently ready, then by id for determinism. */
export function byRemovalPreference(a: ObservedInstance, b: ObservedInstance): number {
  const readyA = a.state === 'ready' ? 1 : 0;
  const readyB = b.state === 'ready' ? 1 : 0;
  if (readyA !== readyB) return readyA - readyB;
  const sinceA = a.readySince ?? 0;
  const sinceB = b.readySince ?? 0;
  if (sinceA !== sinceB) return sinceB - sinceA;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
