import { request } from 'node:http';

export interface ProbeResult {
  ok: boolean;
  /** HTTP status, when a response head arrived. */
  status?: number;
  /** Failure text such as `GET /ready: ECONNREFUSED`, `GET /ready: 500`, `GET /ready: timeout after 1000ms`. */
  error?: string;
}

/**
 * One HTTP GET against `http://127.0.0.1:<port><path>`. 2xx and 3xx are success (redirects are not
 * followed). Never rejects. Uses `agent: false` so no socket is kept after the probe.
 */
export function probeHttp(
  port: number,
  path: string,
  timeoutMs: number,
  host = '127.0.0.1',
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const req = request({
      host,
      port,
      path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'cutover-probe', accept: '*/*', connection: 'close' },
    });
    // Bounds the whole exchange (connect + head + body drain), not just socket idleness.
    const timer = setTimeout(() => {
      done({ ok: false, error: `GET ${path}: timeout after ${timeoutMs}ms` });
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 400;
      done(ok ? { ok, status } : { ok, status, error: `GET ${path}: ${status}` });
      res.on('end', () => clearTimeout(timer));
      res.on('error', () => clearTimeout(timer));
      res.on('close', () => clearTimeout(timer));
      res.resume();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done({ ok: false, error: `GET ${path}: ${err.code ?? err.message}` });
    });
    req.end();
  });
}

/**
 * Consecutive-result thresholds of a probe. The verdict flips to true after `successThreshold`
 * consecutive successes and to false after `failureThreshold` consecutive failures.
 * Readiness starts false; liveness starts true (alive until proven otherwise).
 */
export class ProbeThreshold {
  value: boolean;
  successes = 0;
  failures = 0;
  readonly successThreshold: number;
  readonly failureThreshold: number;

  constructor(successThreshold: number, failureThreshold: number, initial = false) {
    this.successThreshold = Math.max(1, successThreshold);
    this.failureThreshold = Math.max(1, failureThreshold);
    this.value = initial;
  }

  /** Records one probe result; returns true when the verdict changed. */
  record(ok: boolean): boolean {
    if (ok) {
      this.successes++;
      this.failures = 0;
      if (!this.value && this.successes >= this.successThreshold) {
        this.value = true;
        return true;
      }
    } else {
      this.failures++;
      this.successes = 0;
      if (this.value && this.failures >= this.failureThreshold) {
        this.value = false;
        return true;
      }
    }
    return false;
  }

  reset(initial: boolean): void {
    this.value = initial;
    this.successes = 0;
    this.failures = 0;
  }
}
