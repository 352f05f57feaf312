/** gateway.maxConnections through the real gateway process: a worker holds its share, no more. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { service, startUpstream, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

/** A keep-alive connection that has been answered once (so the worker surely accepted it). */
function openAnswered(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.once('data', () => resolve(s));
    s.on('error', reject);
    s.once('close', () => reject(new Error('closed before an answer')));
  });
}

/** How a new connection ends: 'answered', or 'closed' without a byte. */
function fate(port: number): Promise<'answered' | 'closed'> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.once('data', () => {
      s.destroy();
      resolve('answered');
    });
    s.on('error', () => resolve('closed'));
    s.once('close', () => resolve('closed'));
  });
}

test('gateway.maxConnections: connections beyond the worker share are closed at once; open ones keep being served', {
  timeout: 60_000,
}, async (t) => {
  // Given a one-worker gateway holding at most 3 client connections
  const dir = tempDir(t);
  const up = await startUpstream(t, 'web');
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 1, maxConnectionsPerWorker: 3 }));
  const put = await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
  assert.equal(put.status, 200);
  const held = [await openAnswered(gw.port), await openAnswered(gw.port), await openAnswered(gw.port)];
  t.after(() => {
    for (const s of held) s.destroy();
  });

  // When a fourth client connects, Then it is closed without an answer
  assert.equal(await fate(gw.port), 'closed');
  // And the three open ones are still served
  const again = await new Promise<string>((resolve) => {
    held[0].once('data', (d: Buffer) => resolve(d.toString('latin1').split('\r\n')[0]));
    held[0].write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  assert.equal(again, 'HTTP/1.1 200 OK');
  // When one closes, a new client gets in
  const closed = new Promise((r) => held[2].once('close', r));
  held[2].destroy();
  await closed;
  let answered = false;
  for (let i = 0; i < 50 && !answered; i++) answered = (await fate(gw.port)) === 'answered';
  assert.ok(answered, 'a connection is accepted once one closed');
});
