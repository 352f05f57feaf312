/**
 * limits.rate through a real gateway (master + 2 workers) under real load (hey): the whole gateway
 * admits the limit once per key, not once per worker; 429s carry Retry-After and the RateLimit
 * fields; limited requests are counted as such, not as errors of the revision.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { RouteService, StatsReport } from '../src/gateway/protocol.ts';
import { request, service, startUpstream, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

const T = { timeout: 120_000 };
const RATE = 100;
const BURST = 10;
const LOAD_SECONDS = 4;

interface Load {
  statuses: Record<number, number>;
  /** When each request reached the gateway, in seconds from the start of the run, sorted (client side:
   * start offset + connect + write). */
  arrivals: number[];
}

/** hey against `url` for `seconds`, a new connection per request (so both workers take part). */
function hey(t: TestContext, url: string, user: string, concurrency: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'hey',
      [
        '-z',
        `${LOAD_SECONDS}s`,
        '-c',
        `${concurrency}`,
        '-disable-keepalive',
        '-o',
        'csv',
        '-H',
        `x-user: ${user}`,
        url,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => {
        if (err) {
          reject(err);
          return;
        }
        const statuses: Record<number, number> = {};
        const arrivals: number[] = [];
        // response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset
        for (const line of stdout.split('\n').slice(1)) {
          const f = line.split(',');
          if (f.length < 8) continue;
          const status = Number(f[6]);
          statuses[status] = (statuses[status] ?? 0) + 1;
          arrivals.push(Number(f[7]) + Number(f[1]) + Number(f[3]));
        }
        arrivals.sort((a, b) => a - b);
        resolve({ statuses, arrivals });
      },
    );
    t.after(() => child.kill('SIGKILL'));
  });
}

/**
 * What one exact token bucket would admit of these arrivals. On a busy machine the load generator
 * itself has gaps longer than a token's interval; tokens not asked for then are lost to any limiter,
 * so the lower bound is what the demand allowed, not rate x time.
 */
function bucketAdmits(arrivals: readonly number[], rate: number, burst: number): number {
  let tokens = burst;
  let last = arrivals[0] ?? 0;
  let admitted = 0;
  for (const at of arrivals) {
    tokens = Math.min(burst, tokens + (at - last) * rate);
    last = at;
    if (tokens >= 1) {
      tokens -= 1;
      admitted++;
    }
  }
  return admitted;
}

test(
  'limits.rate is exact across two workers: per key the gateway admits burst + rate x time (at most +5%, and within 5% of what the demand allowed), the rest get 429, counted as limited and not as errors',
  T,
  async (t) => {
    // Given one instance that notes when each user's requests arrive
    const arrivals = new Map<string, number[]>();
    const up = await startUpstream(t, 'web', (req, res) => {
      const user = String(req.headers['x-user']);
      const list = arrivals.get(user) ?? [];
      list.push(performance.now());
      arrivals.set(user, list);
      res.end('ok');
    });
    // And a gateway with two workers limiting each x-user to 100 requests per second, burst 10
    const gw = await spawnGateway(t, settingsIn(tempDir(t), { workers: 2 }));
    const web: RouteService = service('web', [upstream('web-1', up.port)], {
      policy: {
        rate: { requests: RATE, perMs: 1000, burst: BURST, key: { source: 'header', name: 'x-user' } },
      },
    });
    const put = await admin(gw.admin, 'PUT', '/routes', table(1, web));
    assert.equal(put.status, 200, JSON.stringify(put.json));

    // When two users each send far more than that at once, on new connections spread over the workers
    const url = `http://127.0.0.1:${gw.port}/`;
    const [a, b] = await Promise.all([hey(t, url, 'a', 16), hey(t, url, 'b', 8)]);

    // Then each user's admitted requests fit the token bucket of the whole gateway
    let limited = 0;
    let admitted = 0;
    for (const [user, load] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const statuses = load.statuses;
      const times = arrivals.get(user) ?? [];
      assert.ok(times.length > 0, `user ${user}: nothing admitted`);
      const ok = statuses[200] ?? 0;
      const rejected = statuses[429] ?? 0;
      assert.deepEqual(
        Object.keys(statuses).sort(),
        ['200', '429'],
        `user ${user}: only 200 and 429, got ${JSON.stringify(statuses)}`,
      );
      assert.equal(ok, times.length, `user ${user}: every 200 reached the instance`);
      const windowMs = times[times.length - 1] - times[0];
      const expected = BURST + (RATE * windowMs) / 1000;
      const demandAllows = bucketAdmits(load.arrivals, RATE, BURST);
      assert.ok(
        ok <= 1.05 * expected,
        `user ${user}: admitted ${ok} in ${windowMs.toFixed(0)} ms, more than ${expected.toFixed(1)} + 5% (a per-worker limit would admit about twice that)`,
      );
      const floor = 0.95 * Math.min(expected, demandAllows);
      assert.ok(
        ok >= floor,
        `user ${user}: admitted ${ok}, fewer than ${floor.toFixed(1)} (95% of what one exact bucket admits of the same requests)`,
      );
      t.diagnostic(
        `user ${user}: ${ok} admitted in ${windowMs.toFixed(0)} ms (bucket allows ${expected.toFixed(1)}, the demand ${demandAllows}), ${rejected} limited`,
      );
      limited += rejected;
      admitted += ok;
    }

    // And the gateway counts the 429s as limited, with the key class, and none as errors of the revision
    const stats = (await admin(gw.admin, 'GET', '/stats')).json as unknown as StatsReport;
    const r = stats.services.web.revisions['1'];
    assert.deepEqual(r.limited, { rate: limited, concurrency: 0, connections: 0, rateKey: 'header' });
    assert.equal(r.requests, admitted);
    assert.equal(r.status['5xx'], 0);
    assert.equal(r.errors, 0);
  },
);

test(
  'a 429 says when to come back: Retry-After and the RateLimit-Policy / RateLimit fields of the IETF draft',
  T,
  async (t) => {
    // Given a service limited to one request per minute per client address
    const up = await startUpstream(t, 'slow');
    const gw = await spawnGateway(t, settingsIn(tempDir(t), { workers: 2 }));
    const slow = service('slow', [upstream('slow-1', up.port)], {
      policy: { rate: { requests: 1, perMs: 60_000, burst: 1, key: { source: 'ip' } } },
    });
    assert.equal((await admin(gw.admin, 'PUT', '/routes', table(1, slow))).status, 200);
    // When the client sends two requests
    const first = await request(gw.port, '/');
    const second = await request(gw.port, '/');
    // Then the first is served and the second is turned away until the bucket has a token again
    assert.equal(first.status, 200);
    assert.equal(second.status, 429);
    const wait = Number(second.headers['retry-after']);
    assert.ok(wait >= 59 && wait <= 60, `retry-after ${second.headers['retry-after']}`);
    assert.equal(second.headers['ratelimit-policy'], '"slow";q=1;w=60');
    assert.equal(second.headers.ratelimit, `"slow";r=0;t=${wait}`);
    assert.match(second.body, /rate limit of service "slow" reached/);
    assert.equal(up.requests.length, 1);
  },
);

test(
  'WebSocket upgrades spend the same tokens: one past the burst gets 429 with Retry-After on the raw connection, and never reaches the instance',
  T,
  async (t) => {
    // Given a WebSocket service limited to one request per minute per client address
    const up = await wsUpstream(t);
    const gw = await spawnGateway(t, settingsIn(tempDir(t), { workers: 2 }));
    const ws = service('ws', [upstream('ws-1', up.port)], {
      policy: { rate: { requests: 1, perMs: 60_000, burst: 1, key: { source: 'ip' } } },
    });
    assert.equal((await admin(gw.admin, 'PUT', '/routes', table(1, ws))).status, 200);
    // When the client opens a WebSocket, then tries a second one
    await openWebSocket(t, gw.port);
    const second = await rawUpgrade(gw.port);
    // Then the first is relayed, the second is turned away until the bucket has a token again
    assert.match(second, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
    const wait = Number(/\r\nRetry-After: (\d+)\r\n/.exec(second)?.[1]);
    assert.ok(wait >= 59 && wait <= 60, second);
    assert.match(second, /\r\nratelimit-policy: "ws";q=1;w=60\r\n/);
    assert.match(second, /rate limit of service "ws" reached/);
    assert.equal(up.upgrades(), 1);
    // and a plain request of the same client is out of tokens too: one bucket for both
    assert.equal((await request(gw.port, '/')).status, 429);
  },
);

test(
  "a WebSocket holds one of its client address's connection slots while open: an upgrade beyond maxConnectionsPerClient gets 429 and the connection is closed",
  T,
  async (t) => {
    // Given a WebSocket service allowing one connection per client address
    const up = await wsUpstream(t);
    const gw = await spawnGateway(t, settingsIn(tempDir(t), { workers: 2 }));
    const ws = service('ws', [upstream('ws-1', up.port)], { policy: { maxConnectionsPerClient: 1 } });
    assert.equal((await admin(gw.admin, 'PUT', '/routes', table(1, ws))).status, 200);
    // When the client keeps one WebSocket open and upgrades on a second connection
    await openWebSocket(t, gw.port);
    const second = await rawUpgrade(gw.port);
    // Then the second is turned away, and only the first reached the instance
    assert.match(second, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
    assert.match(second, /\r\nConnection: close\r\n/);
    assert.match(second, /too many connections from this address to service "ws" \(limit 1\)/);
    assert.equal(up.upgrades(), 1);
  },
);

/** An echo WebSocket server counting the upgrades that reached it. */
async function wsUpstream(t: TestContext): Promise<{ port: number; upgrades: () => number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  let upgrades = 0;
  wss.on('connection', (ws) => {
    upgrades++;
    ws.on('message', (data) => ws.send(data));
  });
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
  return { port: (wss.address() as AddressInfo).port, upgrades: () => upgrades };
}

/** A WebSocket through the gateway, open (closed when the test ends). */
async function openWebSocket(t: TestContext, port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
  t.after(() => ws.close());
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('the websocket failed to open')), { once: true });
  });
  return ws;
}

/** A WebSocket upgrade on a raw connection: what the gateway answered until it closed (a 101: its head). */
async function rawUpgrade(port: number): Promise<string> {
  const s = net.connect(port, '127.0.0.1');
  s.write(
    'GET /chat HTTP/1.1\r\nHost: ws\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  let text = '';
  s.on('error', () => {});
  await new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      // Relayed: the connection would stay open.
      if (text.startsWith('HTTP/1.1 101') && text.includes('\r\n\r\n')) s.destroy();
    });
    s.once('close', () => resolve());
  });
  return text;
}
