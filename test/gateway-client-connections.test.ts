/**
 * limits.maxConnectionsPerClient through a real gateway (master + 2 workers): the whole gateway
 * holds a client address to the limit, whichever worker took each connection; a connection beyond
 * it gets 429 and is closed; a closed connection frees its slot; trusted proxies are not limited.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import type { StatsReport } from '../src/gateway/protocol.ts';
import { service, startUpstream, table, upstream, waitFor } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

const T = { timeout: 60_000 };
const LIMIT = 4;

interface Conn {
  socket: net.Socket;
  /** Resolves with the status of the next response; `closed` once the gateway closed the connection. */
  get(): Promise<number>;
  closed: Promise<void>;
}

/** A raw keep-alive connection from `from`, which reads one response per `get`. */
async function connect(t: TestContext, port: number, from: string): Promise<Conn> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
  t.after(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  let buf = '';
  let waiting: ((status: number) => void) | null = null;
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0 || waiting === null) return;
    const head = buf.slice(0, end);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < end + 4 + length) return;
    buf = buf.slice(end + 4 + length);
    const w = waiting;
    waiting = null;
    w(Number(head.split(' ')[1]));
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    closed,
    get: () =>
      new Promise<number>((resolve) => {
        waiting = resolve;
        socket.write('GET / HTTP/1.1\r\nHost: web\r\n\r\n');
      }),
  };
}

test(
  'maxConnectionsPerClient holds across both workers: beyond it 429 and the connection closed; a closed connection frees its slot; other addresses and trusted proxies are not held',
  T,
  async (t) => {
    // Given a gateway with two workers that trusts 127.0.0.3 as a proxy, and a service limited to 4 connections per client
    const up = await startUpstream(t, 'web');
    const gw = await spawnGateway(t, settingsIn(tempDir(t), { workers: 2, trustedProxies: ['127.0.0.3'] }));
    const web = service('web', [upstream('web-1', up.port)], { policy: { maxConnectionsPerClient: LIMIT } });
    assert.equal((await admin(gw.admin, 'PUT', '/routes', table(1, web))).status, 200);

    // When 127.0.0.1 opens 7 connections and sends a request on each
    const mine: Conn[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const c = await connect(t, gw.port, '127.0.0.1');
      mine.push(c);
      statuses.push(await c.get());
    }
    // Then the first 4 are served and the other 3 get 429 and are closed by the gateway
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429, 429]);
    await Promise.all(mine.slice(LIMIT).map((c) => c.closed));
    // And the admitted connections go on serving
    for (const c of mine.slice(0, LIMIT)) assert.equal(await c.get(), 200);

    // When another address and the trusted proxy open more than the limit
    for (const from of ['127.0.0.2', '127.0.0.3']) {
      const got: number[] = [];
      const n = from === '127.0.0.3' ? LIMIT + 2 : LIMIT;
      for (let i = 0; i < n; i++) got.push(await (await connect(t, gw.port, from)).get());
      // Then each is served
      assert.deepEqual(got, new Array(n).fill(200), from);
    }

    // When one of 127.0.0.1's connections closes, a new one is served once the gateway freed the slot
    mine[0].socket.destroy();
    await waitFor(
      async () => {
        const c = await connect(t, gw.port, '127.0.0.1');
        const s = await c.get();
        if (s !== 200) c.socket.destroy();
        return s === 200;
      },
      10_000,
      'a slot for 127.0.0.1 again',
    );

    // And the 429s are counted as limited for the revision, not as its errors
    const stats = (await admin(gw.admin, 'GET', '/stats')).json as unknown as StatsReport;
    const r = stats.services.web.revisions['1'];
    assert.ok((r.limited?.connections ?? 0) >= 3, JSON.stringify(r.limited));
    assert.equal(r.status['5xx'], 0);
  },
);
