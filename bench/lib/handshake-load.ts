/**
 * Load generator for the "new TLS connections" row: `concurrency` loops per thread, each opening a TLS
 * connection (a full handshake: no session is ever offered back, unlike wrk, whose reconnects resume
 * about half of the sessions), sending one `GET / HTTP/1.1` with `Connection: close`, reading the
 * response to the server's close, and starting over. Runs in its own process (the benchmark measures
 * its CPU like wrk's); prints one JSON line (HandshakeResult, bench/lib/parse.ts) on stdout.
 *
 *   node bench/lib/handshake-load.ts --port P [--host 127.0.0.1] [--servername bench.test]
 *                                    [--concurrency 16] [--threads 2] [--duration 10]
 */
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { percentileOf } from './parse.ts';

interface Job {
  host: string;
  port: number;
  servername: string;
  concurrency: number;
  durationMs: number;
}

interface Tally {
  ok: number;
  errors: number;
  /** Connect + handshake + request + response, in ms, one per successful connection. */
  latencies: number[];
  samples: string[];
  /** Wall-clock window of the loops (epoch ms), so thread start-up does not count as load time. */
  startedAt: number;
  endedAt: number;
}

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_ERROR_SAMPLES = 3;

function once(job: Job, tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    let head = '';
    let settled = false;
    const finish = (err: string | null): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err === null && head.startsWith('HTTP/1.1 200')) {
        tally.ok++;
        tally.latencies.push(performance.now() - start);
      } else {
        tally.errors++;
        if (tally.samples.length < MAX_ERROR_SAMPLES) {
          tally.samples.push(err ?? `unexpected response ${JSON.stringify(head.slice(0, 40))}`);
        }
      }
      resolve();
    };
    const socket = tls.connect({
      host: job.host,
      port: job.port,
      servername: job.servername,
      // The certificate is self-signed; the handshake (and its signature check) happens all the same.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => finish('timeout'));
    socket.once('secureConnect', () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${job.servername}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => {
      if (head.length < 64) head += s;
    });
    socket.once('end', () => finish(null));
    socket.once('error', (err) => finish(err.message));
  });
}

async function loop(job: Job): Promise<Tally> {
  const now = (): number => performance.timeOrigin + performance.now();
  const tally: Tally = { ok: 0, errors: 0, latencies: [], samples: [], startedAt: now(), endedAt: 0 };
  const deadline = tally.startedAt + job.durationMs;
  const one = async (): Promise<void> => {
    while (now() < deadline) await once(job, tally);
  };
  await Promise.all(Array.from({ length: job.concurrency }, one));
  tally.endedAt = now();
  return tally;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      servername: { type: 'string', default: 'bench.test' },
      concurrency: { type: 'string', default: '16' },
      threads: { type: 'string', default: '2' },
      duration: { type: 'string', default: '10' },
    },
  });
  const int = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const threads = int('threads', values.threads);
  const job: Job = {
    host: values.host,
    port: int('port', values.port),
    servername: values.servername,
    concurrency: int('concurrency', values.concurrency),
    durationMs: int('duration', values.duration) * 1000,
  };
  const tallies = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<Tally>((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: job });
          w.once('message', (t: Tally) => resolve(t));
          w.once('error', reject);
        }),
    ),
  );
  const seconds =
    (Math.max(...tallies.map((t) => t.endedAt)) - Math.min(...tallies.map((t) => t.startedAt))) / 1000;
  const latencies = tallies.flatMap((t) => t.latencies).sort((a, b) => a - b);
  const ok = tallies.reduce((a, t) => a + t.ok, 0);
  const round = (n: number | null): number | null => (n === null ? null : Math.round(n * 1000) / 1000);
  process.stdout.write(
    `${JSON.stringify({
      connections: ok,
      errors: tallies.reduce((a, t) => a + t.errors, 0),
      durationS: round(seconds),
      rate: round(ok / seconds),
      p50Ms: round(percentileOf(latencies, 50)),
      p99Ms: round(percentileOf(latencies, 99)),
      errorSamples: tallies.flatMap((t) => t.samples).slice(0, MAX_ERROR_SAMPLES),
    })}\n`,
  );
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`handshake-load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  void loop(workerData as Job).then((t) => parentPort?.postMessage(t));
}
