import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { fixedRateBinary, parseFixedRate } from './fixed-rate.ts';

const run = promisify(execFile);
const binary = fixedRateBinary(() => {});
const skip = binary === null ? 'no C compiler to build bench/lib/fixed-rate.c' : false;

/**
 * A raw HTTP/1.1 server: `answer(n, perConnection)` gives the bytes for the n-th request overall (the
 * perConnection-th on its connection), or null to close the connection without answering.
 */
async function rawServer(answer: (n: number, perConnection: number) => string | null) {
  let requests = 0;
  const server = net.createServer((socket) => {
    let pending = '';
    let mine = 0;
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        pending = pending.slice(end + 4);
        const bytes = answer(++requests, ++mine);
        if (bytes === null) {
          socket.destroy();
          return;
        }
        socket.write(bytes);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy';

test('every request asked for is sent once and answered; non-2xx responses are counted', {
  skip,
}, async (t) => {
  const server = await rawServer((n) => (n % 10 === 0 ? UNAVAILABLE : OK));
  t.after(() => server.close());
  const { stdout } = await run(binary!, ['127.0.0.1', String(server.port), '/', '500', '1', '4']);
  const r = parseFixedRate(stdout);
  assert.equal(r.requests, 500);
  assert.equal(server.requests(), 500);
  assert.equal(r.errors, 50);
  assert.equal(r.transportErrors, 0);
  assert.equal(r.reconnects, 0);
  assert.ok(r.p50Ms !== null && r.p99Ms !== null && r.p999Ms !== null);
  assert.ok(r.p50Ms <= r.p99Ms && r.p99Ms <= r.p999Ms && r.p999Ms <= r.maxMs);
  assert.ok(r.sentP99Ms <= r.p99Ms, 'from-sent latency never exceeds from-due latency');
});

test('a connection closed without an answer is a transport error, and the load goes on on a new one', {
  skip,
}, async (t) => {
  // Every connection's 5th request is dropped with the connection.
  const server = await rawServer((_n, mine) => (mine === 5 ? null : OK));
  t.after(() => server.close());
  const { stdout } = await run(binary!, ['127.0.0.1', String(server.port), '/', '400', '1', '2']);
  const r = parseFixedRate(stdout);
  assert.ok(r.transportErrors > 0, `transport errors: ${stdout}`);
  assert.equal(r.requests + r.transportErrors, 400, stdout);
  assert.ok(r.reconnects >= r.transportErrors, stdout);
  assert.equal(r.errors, 0);
});

test('a response without Content-Length is a framing error, not a success', { skip }, async (t) => {
  const server = await rawServer(
    () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  );
  t.after(() => server.close());
  const { stdout } = await run(binary!, ['127.0.0.1', String(server.port), '/', '50', '1', '1']);
  const r = parseFixedRate(stdout);
  assert.equal(r.requests, 0, stdout);
  assert.equal(r.transportErrors, 50, stdout);
});

test('bad arguments are refused with the usage', { skip }, async () => {
  await assert.rejects(
    run(binary!, ['127.0.0.1', '80', '/']),
    (err: Error & { code?: number; stderr?: string }) => {
      assert.equal(err.code, 64);
      assert.match(err.stderr ?? '', /usage: fixed-rate HOST PORT PATH RATE SECONDS CONNECTIONS/);
      return true;
    },
  );
  await assert.rejects(
    run(binary!, ['localhost', '80', '/', '10', '1', '1']),
    /HOST must be an IPv4 address/,
  );
});

test('output that is not the generator JSON line is an error naming it', () => {
  assert.throws(() => parseFixedRate('segfault\n'), /unrecognised fixed-rate output:\nsegfault/);
});
