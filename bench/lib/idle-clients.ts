/**
 * The memory rows' client (its own process, so its sockets and fds are not the benchmark's): opens
 * `--count` connections to 127.0.0.1:`--port` and leaves each idle once it is set up:
 *  - `keepalive`: one complete `GET /` and its whole answer (Content-Length body), then nothing;
 *  - `websocket`: an upgrade request and its `101 Switching Protocols`, then nothing.
 * Prints one JSON line {"open":N,"failed":F,"ms":T,"errors":[...]} when every connection is set up (or
 * failed), then holds them until SIGTERM or stdin closes.
 *
 *   node bench/lib/idle-clients.ts --port P --count 10000 --mode keepalive|websocket [--parallel 200]
 */

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { parseArgs } from 'node:util';

type Mode = 'keepalive' | 'websocket';

/** Resolves true once the response `mode` waits for is complete; false on anything else. */
export function responseDone(mode: Mode, buf: string): boolean | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  if (mode === 'websocket') return status === 101;
  if (status !== 200) return false;
  const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN);
  if (!Number.isFinite(len)) return false; // the proxies all answer this upstream with a length
  return buf.length - end - 4 >= len ? true : null;
}

function open(port: number, mode: Mode, held: net.Socket[]): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let settled = false;
    const done = (err: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === null) held.push(s);
      else s.destroy();
      resolve(err);
    };
    const timer = setTimeout(() => done('timeout'), 30_000);
    s.setNoDelay(true);
    s.on('error', (e) => done(e.message));
    s.on('close', () => done('closed before the answer'));
    s.on('connect', () => {
      const ws =
        mode === 'websocket'
          ? 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n`
          : '';
      s.write(`GET / HTTP/1.1\r\nHost: bench.test\r\n${ws}\r\n`);
    });
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      if (settled) return; // idle from here: nothing more is expected
      buf += d;
      const r = responseDone(mode, buf);
      if (r === true) done(null);
      else if (r === false) done(`unexpected answer: ${JSON.stringify(buf.slice(0, 80))}`);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      count: { type: 'string', default: '10000' },
      mode: { type: 'string', default: 'keepalive' },
      parallel: { type: 'string', default: '200' },
    },
  });
  const port = Number(values.port);
  const count = Number(values.count);
  const mode = values.mode as Mode;
  if (!(port > 0) || !(count > 0) || (mode !== 'keepalive' && mode !== 'websocket')) {
    throw new Error('usage: idle-clients.ts --port P --count N --mode keepalive|websocket');
  }
  const held: net.Socket[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  const t0 = performance.now();
  // A bounded number of handshakes in flight: the targets' listen backlogs stay far from full.
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      const err = await open(port, mode, held);
      if (err !== null) errors.set(err, (errors.get(err) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, Number(values.parallel)) }, lane));
  const failed = [...errors.values()].reduce((a, b) => a + b, 0);
  const line = {
    open: held.length,
    failed,
    ms: Math.round(performance.now() - t0),
    errors: [...errors].slice(0, 3).map(([e, n]) => `${n}x ${e}`),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  const quit = (): void => process.exit(0);
  process.on('SIGTERM', quit);
  process.stdin.on('end', quit).on('close', quit).resume();
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
