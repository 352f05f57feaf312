/** Parsers for the reports of `wrk --latency` (4.x), `hey` (0.1.x), `h2load` and bench/lib/handshake-load.ts. */

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

/** `h2load` (nghttp2 1.5x) summary plus latency percentiles from its `--log-file`. */
export interface H2loadResult {
  /** Requests that completed (`done`), over `durationS`. */
  requests: number;
  durationS: number;
  rps: number;
  succeeded: number;
  /** h2load's `failed`: transport errors and timeouts (its `errored`) plus 4xx/5xx responses. */
  errors: number;
  statuses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  /** What the handshake negotiated, as h2load reports it (null fields when it printed none). */
  tls: { protocol: string | null; cipher: string | null; tempKey: string | null; alpn: string | null };
}

const H2LOAD_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses h2load's report; `log` is the text of its `--log-file` (one line per request), or ''. */
export function parseH2load(out: string, log: string): H2loadResult {
  const fin = /finished in ([\d.]+)(us|ms|s|m|h), ([\d.]+) req\/s/.exec(out);
  const req =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  if (!fin || !req) throw new Error(`unrecognised h2load output:\n${out}`);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const statuses = {
    '2xx': codes ? Number(codes[1]) : 0,
    '3xx': codes ? Number(codes[2]) : 0,
    '4xx': codes ? Number(codes[3]) : 0,
    '5xx': codes ? Number(codes[4]) : 0,
  };
  const latencies = h2loadLogLatenciesMs(log);
  const line = (label: string): string | null =>
    new RegExp(`^${label}: (.+)$`, 'm').exec(out)?.[1].trim() ?? null;
  return {
    requests: Number(req[3]),
    durationS: (Number(fin[1]) * H2LOAD_UNITS[fin[2]]) / 1000,
    rps: Number(fin[3]),
    succeeded: Number(req[4]),
    // `failed` already includes `errored`, which includes `timeout` (h2load(1)).
    errors: Number(req[5]),
    statuses,
    p50Ms: percentileOf(latencies, 50),
    p90Ms: percentileOf(latencies, 90),
    p99Ms: percentileOf(latencies, 99),
    tls: {
      protocol: line('TLS Protocol'),
      cipher: line('Cipher'),
      tempKey: line('Server Temp Key'),
      alpn: line('Application protocol'),
    },
  };
}

/**
 * h2load `--log-file` lines: start time (µs since epoch), status, µs until the end of the response,
 * tab-separated. Returns the durations in ms, sorted; a request that got no response has status -1 and
 * is left out (it is counted as an error in the summary).
 */
export function h2loadLogLatenciesMs(log: string): number[] {
  const out: number[] = [];
  for (const line of log.split('\n')) {
    const f = line.split('\t');
    if (f.length < 3) continue;
    const status = Number(f[1]);
    const us = Number(f[2]);
    if (!Number.isFinite(us) || !(status > 0)) continue;
    out.push(us / 1000);
  }
  return out.sort((a, b) => a - b);
}

/** Nearest-rank percentile of sorted values; null when there are none. */
export function percentileOf(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  // The epsilon keeps float error from moving a rank up (99.9% of 1000 must be rank 999, not 1000).
  const rank = Math.ceil((p * sorted.length) / 100 - 1e-9);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The JSON line bench/lib/handshake-load.ts prints. */
export interface HandshakeResult {
  /** Connections that completed a full handshake and got a 200. */
  connections: number;
  errors: number;
  durationS: number;
  /** connections / durationS: full TLS handshakes per second. */
  rate: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errorSamples: string[];
}

export function parseHandshakes(out: string): HandshakeResult {
  const line = out.trim().split('\n').at(-1) ?? '';
  let v: Partial<HandshakeResult>;
  try {
    v = JSON.parse(line) as Partial<HandshakeResult>;
  } catch {
    throw new Error(`unrecognised handshake-load output:\n${out}`);
  }
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  if (num(v.connections) === null || num(v.rate) === null || num(v.durationS) === null) {
    throw new Error(`unrecognised handshake-load output:\n${out}`);
  }
  return {
    connections: v.connections as number,
    errors: num(v.errors) ?? 0,
    durationS: v.durationS as number,
    rate: v.rate as number,
    p50Ms: num(v.p50Ms),
    p99Ms: num(v.p99Ms),
    errorSamples: Array.isArray(v.errorSamples) ? v.errorSamples.map(String) : [],
  };
}
