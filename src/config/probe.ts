/** `services.<name>.readiness` and `.liveness`: HTTP probes of an instance. */
import { type Ctx, describe, get, type Path, report } from './ctx.ts';
import type * as D from './defaults.ts';
import { formatDuration } from './duration.ts';
import { PROBE_KEYS } from './keys.ts';
import { readDuration, readInt, readObj, readString } from './read.ts';
import type { ProbeConfig } from './types.ts';

export function validateProbe(
  ctx: Ctx,
  path: Path,
  raw: unknown,
  def: typeof D.DEFAULT_READINESS | typeof D.DEFAULT_LIVENESS,
  kind: 'readiness' | 'liveness',
): ProbeConfig {
  const o = readObj(ctx, path, raw, PROBE_KEYS) ?? {};
  const probePath = readString(ctx, o, path, 'path', def.path) ?? def.path;
  if (!probePath.startsWith('/'))
    report(ctx, [...path, 'path'], `must start with "/", ${describe(probePath)}`);
  else if (/[\s#]/.test(probePath)) report(ctx, [...path, 'path'], 'must not contain whitespace or "#"');
  const probe: ProbeConfig = {
    path: probePath,
    intervalMs: readDuration(ctx, o, path, 'interval', def.interval),
    timeoutMs: readDuration(ctx, o, path, 'timeout', def.timeout),
    successThreshold: readInt(ctx, o, path, 'successThreshold', def.successThreshold, 1),
    failureThreshold: readInt(ctx, o, path, 'failureThreshold', def.failureThreshold, 1),
    initialDelayMs: readDuration(ctx, o, path, 'initialDelay', def.initialDelay, 0),
  };
  if (kind === 'liveness' && get(o, 'successThreshold') !== undefined && probe.successThreshold !== 1) {
    report(ctx, [...path, 'successThreshold'], 'must be 1 for liveness probes');
  }
  if (probe.timeoutMs > probe.intervalMs && probe.intervalMs > 0) {
    const key = get(o, 'timeout') !== undefined ? 'timeout' : 'interval';
    report(
      ctx,
      [...path, key],
      `timeout (${formatDuration(probe.timeoutMs)}) must not be longer than interval (${formatDuration(probe.intervalMs)})`,
    );
  }
  return probe;
}
