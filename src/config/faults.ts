/** `services.<name>.route.faults`: fault injection, refused unless the file sets `allowFaults: true`. */
import { type Ctx, describe, get, type Obj, type Path, report } from './ctx.ts';
import { checkPercent, readDuration, readInt, readObj } from './read.ts';
import type { FaultConfig, ServiceConfig } from './types.ts';

export const FAULT_KEYS = ['revision', 'abort', 'delay'] as const;

function readShare(ctx: Ctx, o: Obj, path: Path): number {
  const raw = get(o, 'percent');
  if (raw === undefined) {
    report(ctx, [...path, 'percent'], 'is required (0..100, the share of requests)');
    return 0;
  }
  const r = checkPercent(raw);
  if (!r.ok) report(ctx, [...path, 'percent'], r.error);
  return r.ok ? r.value : 0;
}

export function validateFaultsAt(ctx: Ctx, path: Path, raw: unknown): FaultConfig | undefined {
  const o = readObj(ctx, path, raw, FAULT_KEYS, false);
  if (!o) return undefined;
  const faults: FaultConfig = {};
  if (get(o, 'revision') !== undefined) faults.revision = readInt(ctx, o, path, 'revision', 1, 1);
  const rawAbort = get(o, 'abort');
  if (rawAbort !== undefined) {
    const ap = [...path, 'abort'];
    const a = readObj(ctx, ap, rawAbort, ['status', 'percent'], false);
    if (a) {
      if (get(a, 'status') === undefined) report(ctx, [...ap, 'status'], 'is required (e.g. 503)');
      faults.abort = { status: readInt(ctx, a, ap, 'status', 503, 400, 599), percent: readShare(ctx, a, ap) };
    }
  }
  const rawDelay = get(o, 'delay');
  if (rawDelay !== undefined) {
    const dp = [...path, 'delay'];
    const d = readObj(ctx, dp, rawDelay, ['ms', 'percent'], false);
    if (d) {
      const rawMs = get(d, 'ms');
      let ms = 0;
      if (rawMs === undefined) report(ctx, [...dp, 'ms'], 'is required (e.g. 200, or "200ms")');
      else if (typeof rawMs === 'number') ms = readInt(ctx, d, dp, 'ms', 0, 1, 600_000);
      else ms = readDuration(ctx, d, dp, 'ms', '0s');
      faults.delay = { ms, percent: readShare(ctx, d, dp) };
    }
  }
  if (
    faults.abort === undefined &&
    faults.delay === undefined &&
    rawAbort === undefined &&
    rawDelay === undefined
  ) {
    report(ctx, path, `needs abort ({ status, percent }) or delay ({ ms, percent }), ${describe(raw)}`);
  }
  return faults;
}

/** Faults are for tests and drills: a file must say so before any route injects them. */
export function checkFaultsAllowed(
  ctx: Ctx,
  services: readonly ServiceConfig[],
  allowFaults: boolean | undefined,
): void {
  if (allowFaults === true) return;
  for (const s of services) {
    if (s.route.faults === undefined) continue;
    report(
      ctx,
      ['services', s.name, 'route', 'faults'],
      'fault injection is refused unless allowFaults: true is set at the top level of the file',
    );
  }
}
