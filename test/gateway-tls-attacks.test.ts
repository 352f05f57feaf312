/**
 * TLS listener abuse on the real gateway (master + 2 workers): clients that connect and never finish a
 * handshake, TLS sent to the plain port and plain HTTP sent to the TLS port, each in a burst while an
 * ordinary client keeps being served by the same workers.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { rawSend } from './helpers/gateway-hostile.ts';
import { assertServed, assertWorkersUnchanged, Bystander, HOST, stage } from './helpers/h2-attack.ts';
import { waitFor } from './helpers/wait.ts';

/** Connections of each kind a burst opens. */
const BURST = 100;
const HANDSHAKE_TIMEOUT_MS = 600;

/** The first bytes a real TLS client sends (its ClientHello), captured from node:tls. */
async function clientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (s) =>
        s.once('data', (d: Buffer) => {
          resolve(d);
          s.destroy();
        }),
      );
      const c = tls.connect({ host: '127.0.0.1', port, servername: HOST, ALPNProtocols: ['h2', 'http/1.1'] });
      c.on('error', () => {});
      setTimeout(() => reject(new Error('no ClientHello')), 5000).unref();
    });
  } finally {
    server.close();
  }
}

interface Held {
  socket: net.Socket;
  closed: boolean;
  openedAt: number;
  closedAfterMs: number;
}

function holdOpen(port: number, first: Buffer | null): Held {
  const socket = net.connect(port, '127.0.0.1');
  const h: Held = { socket, closed: false, openedAt: Date.now(), closedAfterMs: -1 };
  socket.on('error', () => {});
  if (first !== null) socket.once('connect', () => socket.write(first));
  socket.on('close', () => {
    h.closed = true;
    h.closedAfterMs = Date.now() - h.openedAt;
  });
  return h;
}

test('clients that send nothing or half a ClientHello are dropped after handshakeTimeout, others are served', async (t) => {
  const s = await stage(t, { tls: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS } });
  const hello = await clientHello();
  const half = hello.subarray(0, Math.floor(hello.length / 2));
  const bystander = new Bystander(s).start(t);
  const held: Held[] = [];
  for (let i = 0; i < BURST; i++) held.push(holdOpen(s.gw.tlsPort, null), holdOpen(s.gw.tlsPort, half));
  t.after(() => {
    for (const h of held) h.socket.destroy();
  });
  await waitFor(() => held.every((h) => h.closed), 15_000, 'every stalled client to be dropped');
  const times = held.map((h) => h.closedAfterMs).sort((a, b) => a - b);
  t.diagnostic(`stalled clients: ${held.length} dropped after ${times[0]}..${times.at(-1)} ms`);
  // Not before the timeout (a bit of slack for the timer's granularity).
  assert.ok(times[0] >= HANDSHAKE_TIMEOUT_MS * 0.9, `first drop after ${times[0]} ms`);
  assertServed(await bystander.stop(6));
  await assertWorkersUnchanged(s);
});

for (const cleartext of [false, true]) {
  test(`a burst of TLS ClientHellos to the plain port (h2c ${cleartext ? 'on' : 'off'}) gets 400 or a close, no crash`, async (t) => {
    const s = await stage(t, { http2: { cleartext } });
    const hello = await clientHello();
    const bystander = new Bystander(s).start(t);
    const answers = await Promise.all(
      Array.from({ length: BURST }, () => rawSend(s.gw.port, [hello], { waitMs: 10_000 })),
    );
    const statuses = new Set(answers.map((a) => (a.text === '' ? 'closed' : a.text.slice(0, 12))));
    t.diagnostic(`TLS to the plain port: ${[...statuses]}`);
    assert.equal(answers.length, BURST);
    for (const a of answers) {
      assert.ok(a.closedByServer, 'the gateway closed the connection');
      assert.ok(a.text === '' || a.text.startsWith('HTTP/1.1 400 '), a.text.slice(0, 40));
    }
    // A real TLS client gets a clear error, not a hang.
    const err = await new Promise<Error>((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port: s.gw.port, servername: HOST, ca: s.ca.certPem });
      c.once('secureConnect', () => resolve(new Error('handshake succeeded on the plain port')));
      c.once('error', resolve);
    });
    assert.notEqual(err.message, 'handshake succeeded on the plain port');
    assertServed(await bystander.stop());
    assert.equal(s.up.requests, bystander.result.ok, 'no ClientHello reached the upstream');
    await assertWorkersUnchanged(s);
  });
}

test('a burst of plain HTTP to the TLS port gets 400 "this port speaks HTTPS", no crash', async (t) => {
  const s = await stage(t);
  const bystander = new Bystander(s).start(t);
  const answers = await Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      rawSend(s.gw.tlsPort, [`GET /plain/${i} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`], { waitMs: 10_000 }),
    ),
  );
  assert.equal(answers.length, BURST);
  for (const a of answers) {
    assert.match(a.text, /^HTTP\/1\.1 400 /);
    assert.match(a.text, /this port speaks HTTPS/);
    assert.ok(a.closedByServer);
  }
  assertServed(await bystander.stop());
  assert.equal(s.up.requests, bystander.result.ok, 'no plain request reached the upstream');
  await assertWorkersUnchanged(s);
});
