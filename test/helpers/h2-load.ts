/**
 * Steady HTTP/2-over-TLS load (node:http2) counting every stream's outcome. `sessions` client connections
 * each carry `streams` concurrent request loops. A connection that got GOAWAY takes no new stream; the
 * next stream opens a new connection, as a browser does. A stream the server refused without processing
 * it (REFUSED_STREAM: above the GOAWAY's last stream id) is sent again and counted in `retried`: HTTP/2
 * guarantees such a stream did nothing. Everything else that is not a 2xx response is a failure.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import { sleep } from '../../src/util/sleep.ts';
import type { LoadReport } from './load.ts';
import { HandshakeLedger } from './tls-handshakes.ts';
import { waitFor } from './wait.ts';

/** Bound of `more()` and of one stream: a busy machine serves slowly but does serve. */
const STREAM_TIMEOUT_MS = 30_000;
/** How often one stream may be refused (and sent again) before it counts as failed. */
const MAX_ATTEMPTS = 5;
const MAX_FAILURES_KEPT = 20;

export interface H2LoadReport extends LoadReport {
  /** Streams refused unprocessed and sent again... */
  retried: number;
  /** ...by why: `REFUSED_STREAM` (above a GOAWAY's last stream id) or `not sent` (the session had gone away). */
  retriedBy: Record<string, number>;
  /** GOAWAY frames received. */
  goaways: number;
  /** Client connections opened. */
  connections: number;
  /** Session-level errors (each is also a failure when a stream was lost to it). */
  sessionErrors: string[];
}

export interface H2LoadOptions {
  port: number;
  /** SNI name and :authority. */
  servername: string;
  ca: string;
  sessions?: number;
  streams?: number;
  path?: string;
  pauseMs?: number;
  /** A new connection (TLS handshake) for every stream, closed after it. */
  newConnectionEach?: boolean;
  headers?: (n: number) => Record<string, string>;
  /** Stop after this many streams (`done()` resolves then); unbounded without. */
  count?: number;
}

class Client {
  #session: http2.ClientHttp2Session | null = null;
  readonly #o: H2LoadOptions;
  readonly #report: H2LoadReport;
  readonly #ledger: HandshakeLedger;
  /** Every session opened, for stop(). */
  readonly opened = new Set<http2.ClientHttp2Session>();

  constructor(o: H2LoadOptions, report: H2LoadReport, ledger: HandshakeLedger) {
    this.#o = o;
    this.#report = report;
    this.#ledger = ledger;
  }

  /** An open session that has not been told to go away (a new one when there is none). */
  session(): http2.ClientHttp2Session {
    if (this.#session !== null && !this.#session.closed && !this.#session.destroyed) return this.#session;
    return this.connect(true);
  }

  connect(keep: boolean): http2.ClientHttp2Session {
    const { port, servername, ca } = this.#o;
    const session = http2.connect(`https://${servername}:${port}`, {
      createConnection: () => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2'] });
        this.#ledger.watch(socket);
        return socket;
      },
    });
    this.#report.connections++;
    this.opened.add(session);
    session.on('goaway', () => {
      this.#report.goaways++;
      if (this.#session === session) this.#session = null;
    });
    session.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#report.sessionErrors.length < MAX_FAILURES_KEPT)
        this.#report.sessionErrors.push(err.code ?? err.message);
    });
    session.once('close', () => {
      this.opened.delete(session);
      if (this.#session === session) this.#session = null;
    });
    if (keep) this.#session = session;
    return session;
  }

  closeAll(): void {
    for (const s of this.opened) s.close();
  }
}

type Outcome =
  | { kind: 'ok'; version: string }
  | { kind: 'refused'; why: 'REFUSED_STREAM' | 'not sent' }
  | { kind: 'failed'; why: string };

function stream(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<Outcome> {
  return new Promise((resolve) => {
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request(headers, { endStream: true });
    } catch (err) {
      // The session was told to go away (or closed) before this stream was sent: nothing reached it.
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION')
        return resolve({ kind: 'refused', why: 'not sent' });
      return resolve({ kind: 'failed', why: `request: ${code || (err as Error).message}` });
    }
    let status = 0;
    let body = '';
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    req.setTimeout(STREAM_TIMEOUT_MS, () => {
      done({ kind: 'failed', why: 'stream timeout' });
      req.close(http2.constants.NGHTTP2_CANCEL);
    });
    req.setEncoding('utf8');
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      if (status < 200 || status >= 300)
        return done({ kind: 'failed', why: `${status}: ${body.slice(0, 200)}` });
      let version = '?';
      try {
        version = (JSON.parse(body) as { version?: string }).version ?? '?';
      } catch {}
      done({ kind: 'ok', version });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (status === 0 && req.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM)
        return done({ kind: 'refused', why: 'REFUSED_STREAM' });
      done({ kind: 'failed', why: `stream error: ${err.code ?? err.message} (rst ${req.rstCode})` });
    });
    req.on('close', () => {
      if (status === 0 && req.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM)
        return done({ kind: 'refused', why: 'REFUSED_STREAM' });
      done({ kind: 'failed', why: `stream closed without a response (rst ${req.rstCode})` });
    });
  });
}

/** Starts the load; `stop()` ends every loop after its current stream and closes the connections. */
export function startH2Load(o: H2LoadOptions) {
  const report: H2LoadReport = {
    sent: 0,
    ok: 0,
    failed: 0,
    injected: 0,
    failures: [],
    appErrors: 0,
    versions: {},
    retried: 0,
    retriedBy: {},
    goaways: 0,
    connections: 0,
    sessionErrors: [],
  };
  const handshakes = new HandshakeLedger();
  const clients = Array.from({ length: o.sessions ?? 2 }, () => new Client(o, report, handshakes));
  let running = true;
  const fail = (why: string) => {
    report.failed++;
    if (report.failures.length < MAX_FAILURES_KEPT) report.failures.push(why);
  };
  const one = async (client: Client) => {
    const n = report.sent++;
    const headers = { ':path': o.path ?? '/', ...(o.headers?.(n) ?? {}) };
    for (let attempt = 1; ; attempt++) {
      const session = o.newConnectionEach ? client.connect(false) : client.session();
      const outcome = await stream(session, headers);
      if (o.newConnectionEach) session.close();
      if (outcome.kind === 'ok') {
        report.ok++;
        report.versions[outcome.version] = (report.versions[outcome.version] ?? 0) + 1;
        return;
      }
      if (outcome.kind === 'failed') return fail(outcome.why);
      report.retried++;
      report.retriedBy[outcome.why] = (report.retriedBy[outcome.why] ?? 0) + 1;
      if (attempt >= MAX_ATTEMPTS) return fail(`refused ${attempt} times`);
    }
  };
  const loops = clients.flatMap((client) =>
    Array.from({ length: o.streams ?? 4 }, async () => {
      while (running && (o.count === undefined || report.sent < o.count)) {
        await one(client);
        if (o.pauseMs) await sleep(o.pauseMs);
      }
    }),
  );
  return {
    report,
    handshakes,
    /** Waits until `n` more streams were answered (ok or failed) than now: proof the load ran. */
    more(n: number, what = `${n} more answered streams`): Promise<void> {
      const target = report.ok + report.failed + n;
      return waitFor(() => report.ok + report.failed >= target, STREAM_TIMEOUT_MS, what);
    },
    /** With `count`: resolves once every stream was answered (connections closed). */
    async done(): Promise<H2LoadReport> {
      await Promise.all(loops);
      for (const c of clients) c.closeAll();
      return report;
    },
    async stop(): Promise<H2LoadReport> {
      running = false;
      await Promise.all(loops);
      for (const c of clients) c.closeAll();
      return report;
    },
  };
}

export type H2Load = ReturnType<typeof startH2Load>;
