/**
 * Steady HTTPS/1.1 load: `concurrency` request loops over keep-alive connections (or a new connection,
 * i.e. a new TLS handshake, for every request). Like load.ts, every non-2xx response and every socket
 * error is a failure; nothing is retried. The handshakes are recorded (which certificate each got).
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { sleep } from '../../src/util/sleep.ts';
import type { LoadReport } from './load.ts';
import { HandshakeLedger } from './tls-handshakes.ts';
import { waitFor } from './wait.ts';

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_FAILURES_KEPT = 20;

export interface HttpsLoadOptions {
  port: number;
  servername: string;
  ca: string;
  concurrency?: number;
  path?: string;
  pauseMs?: number;
  /** No keep-alive: every request on a connection of its own. */
  newConnectionEach?: boolean;
}

export function startHttpsLoad(o: HttpsLoadOptions) {
  const handshakes = new HandshakeLedger();
  const concurrency = o.concurrency ?? 4;
  const agent = new https.Agent({
    keepAlive: !o.newConnectionEach,
    maxSockets: concurrency,
    ca: o.ca,
    servername: o.servername,
    ALPNProtocols: ['http/1.1'],
    // New connections make full handshakes (a resumed session is served no certificate to look at).
    ...(o.newConnectionEach ? { maxCachedSessions: 0 } : {}),
  } as https.AgentOptions);
  const seen = new WeakSet<object>();
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
  const fail = (why: string) => {
    report.failed++;
    if (report.failures.length < MAX_FAILURES_KEPT) report.failures.push(why);
  };
  const one = () =>
    new Promise<void>((resolve) => {
      report.sent++;
      const req = https.get(
        {
          host: '127.0.0.1',
          port: o.port,
          servername: o.servername,
          path: o.path ?? '/',
          // Without keep-alive the server closes too: the next request cannot find this connection.
          headers: o.newConnectionEach ? { host: o.servername, connection: 'close' } : { host: o.servername },
          agent,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              report.ok++;
              let v = '?';
              try {
                v = (JSON.parse(body) as { version?: string }).version ?? '?';
              } catch {}
              report.versions[v] = (report.versions[v] ?? 0) + 1;
            } else fail(`${status}: ${body.slice(0, 200)}`);
            resolve();
          });
          res.on('error', (err) => {
            fail(`response error: ${err.message}`);
            resolve();
          });
        },
      );
      req.on('socket', (socket) => {
        if (seen.has(socket)) return;
        seen.add(socket);
        handshakes.watch(socket as TLSSocket);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('client timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        fail(`request error: ${err.code ?? err.message}`);
        resolve();
      });
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      await one();
      if (o.pauseMs) await sleep(o.pauseMs);
    }
  });
  return {
    report,
    handshakes,
    more(n: number, what = `${n} more answered requests`): Promise<void> {
      const target = report.ok + report.failed + n;
      return waitFor(() => report.ok + report.failed >= target, REQUEST_TIMEOUT_MS, what);
    },
    async stop(): Promise<LoadReport> {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return report;
    },
  };
}

export type HttpsLoad = ReturnType<typeof startHttpsLoad>;
