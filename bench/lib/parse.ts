/** Parsers for the text reports of `wrk --latency` (4.x) and `hey` (0.1.x). */

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number | null;
  p99Ms: number | null;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** non-2xx/3xx responses + all socket errors. */
  errors: number;
}

export interface HeyResult {
  requests: number;
  rps: number;
  p50Ms: number | null;
  p99Ms: number | null;
  statuses: Record<string, number>;
  /** Responses outside 2xx plus transport errors. */
  errors: number;
  errorSamples: string[];
}

const WRK_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `197.00us` -> 0.197 (milliseconds). */
export function wrkDurationMs(text: string): number | null {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * WRK_UNITS[m[2]];
}

export function parseWrk(out: string): WrkResult {
  const rpsMatch = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rpsMatch) throw new Error(`unrecognised wrk output:\n${out}`);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(out);
  const pct = (p: string): number | null => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)\\s*$`, 'm').exec(out);
    return m ? wrkDurationMs(m[1]) : null;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = {
    connect: sock ? Number(sock[1]) : 0,
    read: sock ? Number(sock[2]) : 0,
    write: sock ? Number(sock[3]) : 0,
    timeout: sock ? Number(sock[4]) : 0,
  };
  const non2xxMatch = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const non2xx = non2xxMatch ? Number(non2xxMatch[1]) : 0;
  return {
    requests: total ? Number(total[1]) : 0,
    durationS: total ? (Number(total[2]) * WRK_UNITS[total[3]]) / 1000 : 0,
    rps: Number(rpsMatch[1]),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    non2xx,
    socketErrors,
    errors: non2xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
  };
}

export function parseHey(out: string): HeyResult {
  const rpsMatch = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rpsMatch) throw new Error(`unrecognised hey output:\n${out}`);
  const pct = (p: string): number | null => {
    const m = new RegExp(`^\\s+${p}% in ([\\d.]+) secs`, 'm').exec(out);
    return m ? Number(m[1]) * 1000 : null;
  };
  const statuses: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  const statusBlock = /Status code distribution:\n([\s\S]*?)(?:\n\s*\n|$)/.exec(out);
  if (statusBlock) {
    for (const m of statusBlock[1].matchAll(/\[(\d+)\]\s+(\d+) responses/g)) {
      const n = Number(m[2]);
      statuses[m[1]] = n;
      requests += n;
      if (!m[1].startsWith('2')) errors += n;
    }
  }
  const errorSamples: string[] = [];
  const errorBlock = /Error distribution:\n([\s\S]*?)(?:\n\s*\n|$)/.exec(out);
  if (errorBlock) {
    for (const m of errorBlock[1].matchAll(/\[(\d+)\]\s+(.*)/g)) {
      const n = Number(m[1]);
      errors += n;
      requests += n;
      if (errorSamples.length < 3) errorSamples.push(`${n}x ${m[2].trim()}`);
    }
  }
  return {
    requests,
    rps: Number(rpsMatch[1]),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    statuses,
    errors,
    errorSamples,
  };
}
