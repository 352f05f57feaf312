import http from 'node:http';
import { sleep } from '../../src/util/sleep.ts';
import { waitFor } from './wait.ts';

/** Bound of `more()`: generous, a busy machine serves slowly but does serve. */
const MORE_TIMEOUT_MS = 30_000;

/**
 * What a load run observed. Every non-2xx response and every socket error is a failure, except the
 * gateway's injected faults (`X-Cutover-Fault: abort`, route faults and drills), counted apart.
 */
export interface LoadReport {
  sent: number;
  ok: number;
  failed: number;
  /** Responses the gateway failed on purpose (not in `failed`). */
  injected: number;
  failures: string[];
  /** Responses per `version` field of the example service's JSON body. */
  versions: Record<string, number>;
  /** Failures the example service wrote itself (its ERROR_RATE 500s), told apart from the gateway's. */
  appErrors: number;
}

/** The body of the example service's own 500 (examples/app/server.mjs). */
const APP_ERROR_BODY = 'internal error\n';

/**
 * Steady load through the gateway from `concurrency` keep-alive clients until `stop()`.
 * Clients pause `pauseMs` between requests so the rate stays moderate on a 2-core machine.
 */
export function startLoad(
  port: number,
  opts: {
    concurrency?: number;
    /** The gateway's address (default 127.0.0.1). */
    host?: string;
    path?: string;
    pauseMs?: number;
    /** Headers of the n-th request (e.g. a distinct X-User-Id per request). */
    headers?: (n: number) => Record<string, string>;
    /** Called with every successful response's version and the request's headers. */
    onResponse?: (version: string, headers: Record<string, string>) => void;
  } = {},
) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 8 });
  const report: LoadReport = {
    sent: 0,
    ok: 0,
    failed: 0,
    failures: [],
    versions: {},
    injected: 0,
    appErrors: 0,
  };
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const n = report.sent++;
      const headers = opts.headers?.(n) ?? {};
      const req = http.get(
        { host: opts.host ?? '127.0.0.1', port, path: opts.path ?? '/', agent, headers },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) {
              report.ok++;
              try {
                const v = (JSON.parse(body) as { version?: string }).version ?? '?';
                report.versions[v] = (report.versions[v] ?? 0) + 1;
                opts.onResponse?.(v, headers);
              } catch {}
            } else if (res.headers['x-cutover-fault'] === 'abort') {
              report.injected++;
            } else {
              report.failed++;
              if (res.statusCode === 500 && body === APP_ERROR_BODY) report.appErrors++;
              if (report.failures.length < 20)
                report.failures.push(`${res.statusCode}: ${body.slice(0, 200)}`);
            }
            resolve();
          });
          res.on('error', (err) => {
            report.failed++;
            if (report.failures.length < 20) report.failures.push(`response error: ${err.message}`);
            resolve();
          });
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('client timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        report.failed++;
        if (report.failures.length < 20)
          report.failures.push(`request error: ${err.code ?? ''} ${err.message}`);
        resolve();
      });
    });
  const workers = Array.from({ length: opts.concurrency ?? 8 }, async () => {
    while (running) {
      await one();
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  });
  return {
    report,
    /** Waits until `n` more requests were answered (ok or failed) than now: proof the load ran, not a time. */
    more(n: number, what = `${n} more answered requests`): Promise<void> {
      const target = report.ok + report.failed + n;
      return waitFor(() => report.ok + report.failed >= target, MORE_TIMEOUT_MS, what);
    },
    async stop(): Promise<LoadReport> {
      running = false;
      await Promise.all(workers);
      agent.destroy();
      return report;
    },
  };
}
