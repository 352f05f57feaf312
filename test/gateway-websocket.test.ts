/** WebSocket relay through an in-process gateway worker, against a real `ws` upstream. */
import assert from 'node:assert/strict';
import type http from 'node:http';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { WsRelay } from '../src/gateway/websocket.ts';
import { FrameScanner } from '../src/gateway/ws-frame.ts';
import { deadPort, service, startGateway, table, upstream, waitFor } from './helpers/gateway-helpers.ts';

const T = { timeout: 20_000 };

interface WsUpstream {
  port: number;
  wss: WebSocketServer;
  upgrades: http.IncomingMessage[];
  closes: Array<{ code: number; reason: string }>;
}

/** Echo server; the message "big:N" is answered with one N-byte binary message. */
async function startWsUpstream(t: TestContext, onBig?: () => void): Promise<WsUpstream> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const state: WsUpstream = { port: (wss.address() as net.AddressInfo).port, wss, upgrades: [], closes: [] };
  wss.on('connection', (ws, req) => {
    state.upgrades.push(req);
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      if (!isBinary && text.startsWith('big:')) {
        ws.send(Buffer.alloc(Number(text.slice(4)), 7));
        onBig?.();
        return;
      }
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => state.closes.push({ code, reason: reason.toString() }));
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  );
  return state;
}

function open(port: number, path = '/ws'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  ws.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error('websocket failed to open')), { once: true });
  });
}

function nextMessage(ws: WebSocket): Promise<string | ArrayBuffer> {
  return new Promise((resolve) => ws.addEventListener('message', (e) => resolve(e.data), { once: true }));
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string; wasClean: boolean }> {
  return new Promise((resolve) =>
    ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }), {
      once: true,
    }),
  );
}

test('websocket echo through the gateway, counted in flight while open', T, async (t) => {
  const up = await startWsUpstream(t);
  const { port, gw } = await startGateway(t, table(1, service('ws', [upstream('ws-1', up.port)])));
  const ws = await open(port);
  ws.send('hello');
  assert.equal(await nextMessage(ws), 'hello');
  const big = new Uint8Array(300_000).fill(3); // 64-bit length frame
  ws.send(big);
  const echoed = (await nextMessage(ws)) as ArrayBuffer;
  assert.equal(echoed.byteLength, 300_000);
  assert.equal(new Uint8Array(echoed)[299_999], 3);
  assert.deepEqual(gw.inflight(), { 'ws-1': 1 });
  assert.equal(up.upgrades[0].headers['x-forwarded-for'], '127.0.0.1');
  assert.ok(up.upgrades[0].headers['x-request-id']);
  const done = closed(ws);
  ws.close(1000, 'bye');
  assert.equal((await done).code, 1000);
  await waitFor(() => gw.inflight()['ws-1'] === 0, 3000, 'websocket released');
});

test('retiring the instance closes the websocket with 1001 at a frame boundary', T, async (t) => {
  let retire: () => void = () => {};
  const up = await startWsUpstream(t, () => retire());
  const next = await startWsUpstream(t);
  const { port, gw } = await startGateway(t, table(1, service('ws', [upstream('old', up.port)])));
  const ws = await open(port);
  const messages: number[] = [];
  ws.addEventListener('message', (e) => messages.push((e.data as ArrayBuffer).byteLength));
  const done = closed(ws);
  // The upstream starts a 4 MB frame and the instance is retired while it is on its way.
  retire = () => {
    // Wait until the gateway is in the middle of relaying that frame, then retire.
    const relay = [...gw.instances.get('old')!.relays][0] as WsRelay;
    const poll = () => {
      if (relay.toClientAtBoundary) setImmediate(poll);
      else gw.applyTable(table(2, service('ws', [upstream('new', next.port)])));
    };
    poll();
  };
  ws.send('big:4000000');
  const result = await done;
  assert.equal(result.code, 1001);
  assert.equal(result.reason, 'instance retired');
  assert.deepEqual(messages, [4_000_000], 'the frame in progress was delivered whole before the Close');
  await waitFor(() => up.closes.length === 1, 3000, 'upstream saw the close');
  assert.equal(up.closes[0].code, 1001);
  await waitFor(() => !('old' in gw.inflight()), 3000, 'retired instance released');
  // New connections go to the new instance.
  const ws2 = await open(port);
  ws2.send('again');
  assert.equal(await nextMessage(ws2), 'again');
  assert.equal(next.upgrades.length, 1);
  ws2.close();
});

test('an idle websocket outlives the client keep-alive and request-head timeouts', T, async (t) => {
  const up = await startWsUpstream(t);
  const { port, gw } = await startGateway(t, table(1, service('ws', [upstream('ws-1', up.port)])), {
    clientIdleTimeoutMs: 200,
    requestHeadTimeoutMs: 200,
  });
  const ws = await open(port);
  // Part of the scenario: idle for several times both timeouts.
  await new Promise((r) => setTimeout(r, 900));
  ws.send('still here');
  assert.equal(await nextMessage(ws), 'still here');
  assert.deepEqual(gw.inflight(), { 'ws-1': 1 });
  ws.close();
});

test('gateway shutdown closes open websockets with 1001', T, async (t) => {
  const up = await startWsUpstream(t);
  const { port, gw } = await startGateway(t, table(1, service('ws', [upstream('ws-1', up.port)])));
  const ws = await open(port);
  const done = closed(ws);
  const stopped = gw.shutdown(5000);
  const result = await done;
  assert.equal(result.code, 1001);
  assert.equal(result.reason, 'gateway shutting down');
  await stopped;
  assert.equal(gw.totalInflight(), 0);
});

async function rawExchange(port: number, text: string): Promise<{ response: string; closed: boolean }> {
  const s = net.connect(port, '127.0.0.1');
  s.write(text);
  let response = '';
  s.on('data', (d) => {
    response += d.toString('latin1');
  });
  // The gateway closes each of these connections; the bound only turns a connection left open into "not
  // closed" (generous, so a busy machine cannot look like one).
  const closedOk = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 15_000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    s.on('error', () => {});
  });
  s.destroy();
  return { response, closed: closedOk };
}

test('a malformed websocket upgrade gets 400 and the connection is closed', T, async (t) => {
  const up = await startWsUpstream(t);
  const { port } = await startGateway(t, table(1, service('ws', [upstream('ws-1', up.port)])));
  const noKey = await rawExchange(
    port,
    'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  assert.match(noKey.response, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(noKey.response, /Sec-WebSocket-Key/);
  assert.ok(noKey.closed);
  const badVersion = await rawExchange(
    port,
    'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n',
  );
  assert.match(badVersion.response, /^HTTP\/1\.1 400 /);
  const post = await rawExchange(
    port,
    'POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  assert.match(post.response, /^HTTP\/1\.1 400 /);
  assert.equal(up.upgrades.length, 0, 'nothing reached the upstream');
});

test('websocket upgrade without instances gets 503, with only dead instances 502', T, async (t) => {
  const upgrade =
    'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const { port } = await startGateway(t, table(1, service('ws', [])));
  const none = await rawExchange(port, upgrade);
  assert.match(none.response, /^HTTP\/1\.1 503 /);
  assert.match(none.response, /no ready instance for service "ws"/);
  const { port: port2, gw } = await startGateway(
    t,
    table(1, service('ws', [upstream('d1', await deadPort()), upstream('d2', await deadPort())])),
  );
  const dead = await rawExchange(port2, upgrade);
  assert.match(dead.response, /^HTTP\/1\.1 502 /);
  assert.match(dead.response, /X-Request-Id: /);
  await waitFor(() => gw.totalInflight() === 0, 2000, 'released');
});

test('websocket connect refused on one instance is retried on another', T, async (t) => {
  const up = await startWsUpstream(t);
  const { port } = await startGateway(
    t,
    table(1, service('ws', [upstream('dead', await deadPort()), upstream('live', up.port)])),
  );
  for (let i = 0; i < 4; i++) {
    const ws = await open(port);
    ws.send(`m${i}`);
    assert.equal(await nextMessage(ws), `m${i}`);
    ws.close();
  }
  assert.equal(up.upgrades.length, 4);
});

test('FrameScanner finds frame boundaries across arbitrary chunking', () => {
  const frames = [
    Buffer.from([0x81, 0x03, 0x61, 0x62, 0x63]), // text "abc"
    Buffer.concat([Buffer.from([0x82, 0x7e, 0x01, 0x00]), Buffer.alloc(256)]), // 16-bit length
    Buffer.concat([Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]), Buffer.alloc(65536)]), // 64-bit length
    Buffer.from([0x89, 0x80, 1, 2, 3, 4]), // masked empty ping
    Buffer.from([0x88, 0x02, 0x03, 0xe9]), // close 1001
  ];
  const all = Buffer.concat(frames);
  const expected: number[] = [];
  let off = 0;
  for (const f of frames) {
    off += f.length;
    expected.push(off);
  }
  for (const size of [1, 2, 3, 7, 100, 70_000]) {
    const scanner = new FrameScanner();
    const found: number[] = [];
    for (let start = 0; start < all.length; start += size) {
      const chunk = all.subarray(start, start + size);
      let pos = 0;
      while (pos < chunk.length) {
        const b = scanner.next(chunk, pos);
        if (b === -1) break;
        found.push(start + b);
        pos = b;
      }
    }
    assert.deepEqual(found, expected, `chunk size ${size}`);
    assert.equal(scanner.lastOpcode, 8);
    assert.ok(scanner.atBoundary);
  }
});
