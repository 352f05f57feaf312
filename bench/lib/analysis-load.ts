/**
 * Open-loop load for the analysis benchmark: keep-alive node:http clients in the benchmark process that
 * send `rate` requests per second on a fixed schedule (not "as fast as the answers come back"), so a
 * slow canary does not slow the arrival rate down, as with real users. Per response it records the
 * status and the example service's `version`; per watched version the first request start and the last
 * response end (performance.now() ms).
 */

import http from 'node:http';

export interface LoadCounters {
  sent: number;
  /** 2xx responses. */
  ok: number;
  /** Responses with another status. */
  non2xx: number;
  /** Socket errors and timeouts (no response). */
  errors: number;
  /** Ticks where the in-flight cap held requests back (the schedule slipped). */
  throttled: number;
}

export interface VersionSeen {
  /** Start of the first request answered by this version. */
  firstStart: number;
  /** End of the last response from this version. */
  lastEnd: number;
  count: number;
}

const VERSION_RE = /"version":"([^"]*)"/;

export class PacedLoad {
  readonly counters: LoadCounters = { sent: 0, ok: 0, non2xx: 0, errors: 0, throttled: 0 };
  readonly versions = new Map<string, VersionSeen>();
  readonly errorSamples: string[] = [];
  private readonly agent: http.Agent;
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private due = 0;
  private inflight = 0;
  private drained: (() => void) | undefined;
  startedAt = 0;
  stoppedAt = 0;

  private readonly port: number;
  private readonly rate: number;
  private readonly maxInflight: number;

  constructor(port: number, rate: number, maxInflight = 512) {
    this.port = port;
    this.rate = rate;
    this.maxInflight = maxInflight;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: maxInflight, keepAliveMsecs: 1000 });
  }

  start(): void {
    this.t0 = performance.now();
    this.startedAt = this.t0;
    this.due = 0;
    // 2 ms ticks: at 1000 req/s about 2 requests per tick, evenly spread.
    this.timer = setInterval(() => this.tick(), 2);
  }

  private tick(): void {
    const target = Math.floor(((performance.now() - this.t0) * this.rate) / 1000);
    let held = false;
    while (this.due < target) {
      if (this.inflight >= this.maxInflight) {
        held = true;
        break;
      }
      this.due++;
      this.one();
    }
    if (held) this.counters.throttled++;
  }

  private one(): void {
    const start = performance.now();
    this.counters.sent++;
    this.inflight++;
    const done = (): void => {
      this.inflight--;
      if (this.inflight === 0 && this.drained) this.drained();
    };
    const req = http.get({ host: '127.0.0.1', port: this.port, path: '/', agent: this.agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        const end = performance.now();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          this.counters.ok++;
          const m = VERSION_RE.exec(body);
          if (m) {
            const v = m[1];
            const seen = this.versions.get(v);
            if (!seen) this.versions.set(v, { firstStart: start, lastEnd: end, count: 1 });
            else {
              seen.count++;
              if (start < seen.firstStart) seen.firstStart = start;
              if (end > seen.lastEnd) seen.lastEnd = end;
            }
          }
        } else {
          this.counters.non2xx++;
        }
        done();
      });
      res.on('error', (err) => {
        this.fail(`response error: ${err.message}`);
        done();
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout 10s')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      this.fail(`request error: ${err.code ?? err.message}`);
      done();
    });
  }

  private fail(msg: string): void {
    this.counters.errors++;
    if (this.errorSamples.length < 10) this.errorSamples.push(msg);
  }

  /** Requests per second actually sent since start(). */
  sentRate(): number {
    const end = this.stoppedAt || performance.now();
    return (this.counters.sent * 1000) / Math.max(1, end - this.startedAt);
  }

  snapshot(): LoadCounters {
    return { ...this.counters };
  }

  /** Stops sending, waits (up to `graceMs`) for the requests in flight, closes the sockets. */
  async stop(graceMs = 12_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.stoppedAt) this.stoppedAt = performance.now();
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.agent.destroy();
  }
}

export function diffCounters(a: LoadCounters, b: LoadCounters): LoadCounters {
  return {
    sent: b.sent - a.sent,
    ok: b.ok - a.ok,
    non2xx: b.non2xx - a.non2xx,
    errors: b.errors - a.errors,
    throttled: b.throttled - a.throttled,
  };
}
