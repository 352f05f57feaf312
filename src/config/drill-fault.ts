/** The fault of `cutover drill --fault` (src/core/drill.ts runs the drill). */
import { parseDuration } from './duration.ts';
import type { DrillFault } from './types.ts';

/** `errors:5%` (503 on 5% of the canary's requests) or `latency:300ms` (every request, or `latency:300ms@20%`). */
export function parseDrillFault(
  text: string,
): { ok: true; fault: DrillFault } | { ok: false; error: string } {
  const errors = /^errors:(\d+(?:\.\d+)?)%$/.exec(text);
  if (errors) {
    const percent = Number(errors[1]);
    if (percent > 0 && percent <= 100) return { ok: true, fault: { kind: 'errors', percent, status: 503 } };
  }
  const latency = /^latency:([0-9a-z.]+?)(?:@(\d+(?:\.\d+)?)%)?$/.exec(text);
  if (latency) {
    let ms = Number.NaN;
    try {
      ms = parseDuration(latency[1]);
    } catch {}
    const percent = latency[2] === undefined ? 100 : Number(latency[2]);
    if (ms > 0 && percent > 0 && percent <= 100) return { ok: true, fault: { kind: 'latency', ms, percent } };
  }
  return {
    ok: false,
    error: `fault must be errors:N% (0 < N <= 100) or latency:DURATION[@N%], got ${JSON.stringify(text)}`,
  };
}
