/** Canary / blue-green traffic policy and mirroring through a real gateway to real upstreams. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { MAX_MIRRORS_IN_FLIGHT } from '../src/gateway/mirror.ts';
import type { RouteTraffic } from '../src/gateway/protocol.ts';
import { bucketOf } from '../src/gateway/traffic.ts';
import {
  closeServer,
  deadPort,
  request,
  roleUpstream,
  service,
  startGateway,
  startUpstream,
  table,
  waitFor,
} from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

const T = { timeout: 30_000 };

async function stableAndCanary(t: TestContext) {
  const stable = await startUpstream(t, 'stable');
  const canary = await startUpstream(t, 'canary');
  const ups = [roleUpstream('s1', stable.port, 'stable', 1), roleUpstream('c1', canary.port, 'canary', 2)];
  return { stable, canary, ups };
}

test('each rule kind routes to canary or stable as configured', T, async (t) => {
  const { ups } = await stableAndCanary(t);
  const traffic: RouteTraffic = {
    canaryWeight: 0,
    stickyBy: { source: 'header', name: 'x-user' },
    rules: [
      { match: { header: { 'X-Pin': { exact: 'stable' } } }, to: 'stable' },
      { match: { header: { 'X-Beta': { exact: 'on' } } }, to: 'canary' },
      { match: { header: { 'X-Team': { prefix: 'qa-' } } }, to: 'canary' },
      { match: { header: { 'X-Build': { regex: '(?i)^rc\\d+$' } } }, to: 'canary' },
      { match: { cookie: { flag: { exact: 'beta' } } }, to: 'canary' },
      { match: { query: { canary: { prefix: 'y' } } }, to: 'canary' },
      { match: { userIn: ['alice', 'bob'] }, to: 'canary' },
      { match: { userAgent: '(?i)android' }, to: 'canary' },
    ],
  };
  const { port } = await startGateway(t, table(1, service('web', ups, { traffic })));
  const cases: [string, Record<string, string>, string, string][] = [
    ['no rule matches', {}, '/', 'stable'],
    ['header exact', { 'X-Beta': 'on' }, '/', 'canary'],
    ['header exact, other value', { 'X-Beta': 'off' }, '/', 'stable'],
    ['rules in order: the first match wins', { 'X-Pin': 'stable', 'X-Beta': 'on' }, '/', 'stable'],
    ['header prefix', { 'X-Team': 'qa-berlin' }, '/', 'canary'],
    ['header regex, case-insensitive', { 'X-Build': 'RC7' }, '/', 'canary'],
    ['header regex, no match', { 'X-Build': 'rc7-hotfix' }, '/', 'stable'],
    ['cookie', { Cookie: 'theme=dark; flag=beta' }, '/', 'canary'],
    ['cookie, other value', { Cookie: 'flag=alpha' }, '/', 'stable'],
    ['query prefix', {}, '/search?q=1&canary=yes', 'canary'],
    ['query, other value', {}, '/search?canary=no', 'stable'],
    ['userIn on the sticky key', { 'X-User': 'bob' }, '/', 'canary'],
    ['userIn, other key', { 'X-User': 'mallory' }, '/', 'stable'],
    ['userAgent regex', { 'User-Agent': 'Mozilla/5.0 (Linux; Android 14)' }, '/', 'canary'],
    ['userAgent, no match', { 'User-Agent': 'curl/8.5' }, '/', 'stable'],
  ];
  for (const [what, headers, path, want] of cases) {
    const r = await request(port, path, { headers });
    assert.equal(r.status, 200, what);
    assert.equal(r.body, `ok ${want}`, what);
  }
});

test(
  'the preview header reaches the preview only; nothing else ever does; 503 without a preview',
  T,
  async (t) => {
    const blue = await startUpstream(t, 'blue');
    const green = await startUpstream(t, 'green');
    const traffic: RouteTraffic = {
      canaryWeight: 0,
      rules: [],
      preview: { header: 'X-Preview', value: 'yes' },
    };
    const ups = [roleUpstream('b1', blue.port, 'stable', 1), roleUpstream('g1', green.port, 'preview', 2)];
    const { gw, port } = await startGateway(t, table(1, service('web', ups, { traffic })));
    for (let i = 0; i < 40; i++) {
      assert.equal((await request(port, `/p${i}`, { headers: { 'X-Preview': 'yes' } })).body, 'ok green');
      assert.equal((await request(port, `/n${i}`)).body, 'ok blue');
      assert.equal((await request(port, `/w${i}`, { headers: { 'X-Preview': 'no' } })).body, 'ok blue');
    }
    // Even at canary weight 100 (no canary instances: falls back to stable) the preview gets nothing else.
    gw.applyTable(table(2, service('web', ups, { traffic: { ...traffic, canaryWeight: 100 } })));
    for (let i = 0; i < 20; i++) assert.equal((await request(port, `/x${i}`)).body, 'ok blue');
    assert.equal(green.requests.length, 40);
    assert.ok(green.requests.every((r) => r.headers['x-preview'] === 'yes'));

    // Preview side gone: preview requests get 503, the others are unaffected.
    gw.applyTable(table(3, service('web', [ups[0]], { traffic })));
    const none = await request(port, '/p', { headers: { 'X-Preview': 'yes' } });
    assert.equal(none.status, 503);
    assert.equal(none.body, 'cutover: no ready preview instance for service "web"\n');
    assert.equal((await request(port, '/n')).body, 'ok blue');

    // Without `traffic` roles are ignored: one pool (exactly as for rolling updates).
    gw.applyTable(table(4, service('web', ups)));
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await request(port, `/r${i}`)).body);
    assert.deepEqual(bodies, new Set(['ok blue', 'ok green']));
  },
);

test('an empty stable or canary group falls back to the other; none at all is a 503', T, async (t) => {
  const only = await startUpstream(t, 'only');
  const rule = { match: { header: { 'x-c': { exact: '1' } } }, to: 'canary' as const };
  const { gw, port } = await startGateway(
    t,
    table(
      1,
      service('web', [roleUpstream('s1', only.port, 'stable', 1)], {
        traffic: { canaryWeight: 100, rules: [rule] },
      }),
    ),
  );
  assert.equal((await request(port, '/', { headers: { 'x-c': '1' } })).body, 'ok only');
  assert.equal((await request(port, '/')).body, 'ok only');
  gw.applyTable(
    table(
      2,
      service('web', [roleUpstream('c1', only.port, 'canary', 2)], {
        traffic: { canaryWeight: 0, rules: [] },
      }),
    ),
  );
  assert.equal((await request(port, '/')).body, 'ok only');
  gw.applyTable(table(3, service('web', [], { traffic: { canaryWeight: 50, rules: [] } })));
  const r = await request(port, '/');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'cutover: no ready instance for service "web"\n');
});

test('weighted split over many distinct sticky keys follows the key buckets exactly', T, async (t) => {
  const { ups } = await stableAndCanary(t);
  const traffic: RouteTraffic = { canaryWeight: 30, stickyBy: { source: 'cookie', name: 'sid' }, rules: [] };
  const { port } = await startGateway(t, table(1, service('web', ups, { traffic })));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  t.after(() => agent.destroy());
  const n = 3000;
  let canary = 0;
  for (let batch = 0; batch < n; batch += 100) {
    const keys = Array.from({ length: 100 }, (_, i) => `session-${batch + i}`);
    const replies = await Promise.all(
      keys.map((k) => request(port, '/', { headers: { Cookie: `sid=${k}` }, agent })),
    );
    replies.forEach((r, i) => {
      const want = bucketOf(keys[i]) < 3000 ? 'ok canary' : 'ok stable';
      assert.equal(r.body, want, keys[i]);
      if (r.body === 'ok canary') canary++;
    });
  }
  const pct = (canary / n) * 100;
  assert.ok(Math.abs(pct - 30) <= 2.5, `canary share ${pct.toFixed(2)}%`);
  // Same key, same side, every time.
  for (let i = 0; i < 20; i++) {
    const key = `session-${i}`;
    const first = (await request(port, '/', { headers: { Cookie: `sid=${key}` }, agent })).body;
    for (let r = 0; r < 3; r++) {
      assert.equal((await request(port, '/', { headers: { Cookie: `sid=${key}` }, agent })).body, first);
    }
  }
  // Keyless requests split at random with the weight.
  let keyless = 0;
  for (let batch = 0; batch < 1000; batch += 100) {
    const replies = await Promise.all(Array.from({ length: 100 }, () => request(port, '/', { agent })));
    keyless += replies.filter((r) => r.body === 'ok canary').length;
  }
  assert.ok(keyless > 200 && keyless < 400, `keyless canary ${keyless}/1000`);
});

/** A raw upgrade; resolves with the response head. */
function upgrade(port: number, headers: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        s.destroy();
        resolve(buf.slice(0, end));
      }
    });
    s.on('error', reject);
    s.write(
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`,
    );
  });
}

async function wsUpstream(t: TestContext, name: string): Promise<number> {
  const server = http.createServer((_req, res) => res.end());
  server.on('upgrade', (_req, socket: net.Socket) => {
    socket.end(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Who: ${name}\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => closeServer(server));
  return (server.address() as net.AddressInfo).port;
}

test('websocket upgrades choose their upstream with the same policy', T, async (t) => {
  const s = await wsUpstream(t, 'stable');
  const c = await wsUpstream(t, 'canary');
  const p = await wsUpstream(t, 'preview');
  const traffic: RouteTraffic = {
    canaryWeight: 50,
    stickyBy: { source: 'query', name: 'u' },
    rules: [{ match: { header: { 'X-Beta': { exact: '1' } } }, to: 'canary' }],
    preview: { header: 'X-Preview', value: 'on' },
  };
  const ups = [
    roleUpstream('s1', s, 'stable', 1),
    roleUpstream('c1', c, 'canary', 2),
    roleUpstream('p1', p, 'preview', 3),
  ];
  const { gw, port } = await startGateway(t, table(1, service('web', ups, { traffic })));
  assert.match(await upgrade(port, 'X-Beta: 1\r\n'), /X-Who: canary/);
  assert.match(await upgrade(port, 'X-Preview: on\r\n'), /X-Who: preview/);
  gw.applyTable(table(2, service('web', ups, { traffic: { ...traffic, canaryWeight: 0 } })));
  for (let i = 0; i < 10; i++) assert.match(await upgrade(port, ''), /X-Who: stable/);
  gw.applyTable(table(3, service('web', [ups[0]], { traffic })));
  assert.match(await upgrade(port, 'X-Preview: on\r\n'), /^HTTP\/1.1 503 /);
});

interface MirrorSetup {
  stable: Awaited<ReturnType<typeof startUpstream>>;
  canary: Awaited<ReturnType<typeof startUpstream>>;
  port: number;
  gw: Awaited<ReturnType<typeof startGateway>>['gw'];
}

async function mirrorSetup(
  t: TestContext,
  mirror: NonNullable<RouteTraffic['mirror']>,
  canaryHandler?: Parameters<typeof startUpstream>[2],
  settings: Parameters<typeof startGateway>[2] = {},
): Promise<MirrorSetup> {
  const stable = await startUpstream(t, 'stable', (_req, res, rec) =>
    res.end(`stable ${rec.method} ${rec.body}`),
  );
  const canary = await startUpstream(
    t,
    'canary',
    canaryHandler ?? ((_req, res) => res.end('canary says no')),
  );
  const ups = [roleUpstream('s1', stable.port, 'stable', 1), roleUpstream('c1', canary.port, 'canary', 2)];
  const { gw, port } = await startGateway(
    t,
    table(1, service('web', ups, { traffic: { canaryWeight: 0, rules: [], mirror } })),
    settings,
  );
  return { stable, canary, port, gw };
}

test(
  'mirror: clients get only stable responses; canary gets ~percent copies marked X-Cutover-Mirror',
  T,
  async (t) => {
    const { stable, canary, port, gw } = await mirrorSetup(t, { percent: 40, maxBodyBytes: 4096 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    t.after(() => agent.destroy());
    const n = 600;
    const replies = [];
    for (let batch = 0; batch < n; batch += 50) {
      replies.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, j) => {
            const i = batch + j;
            if (i % 3 === 0) return request(port, `/get/${i}`, { agent });
            if (i % 3 === 1) return request(port, `/post/${i}`, { method: 'POST', body: `body-${i}`, agent });
            // Unknown length (chunked).
            return request(port, `/chunked/${i}`, {
              method: 'PUT',
              headers: { 'Transfer-Encoding': 'chunked' },
              body: `chunked-${i}`,
              agent,
            });
          }),
        )),
      );
    }
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      const want =
        i % 3 === 0 ? 'stable GET ' : i % 3 === 1 ? `stable POST body-${i}` : `stable PUT chunked-${i}`;
      assert.equal(r.body, want);
    });
    assert.equal(stable.requests.length, n);
    // Copies arrive asynchronously.
    await waitFor(() => gw.mirrorsInFlight === 0, 5000, 'mirrors to finish');
    const copies = canary.requests;
    assert.ok(copies.length > n * 0.3 && copies.length < n * 0.5, `${copies.length} mirrored of ${n}`);
    const byId = new Map(stable.requests.map((r) => [r.headers['x-request-id'], r]));
    for (const c of copies) {
      assert.equal(c.headers['x-cutover-mirror'], '1');
      const orig = byId.get(c.headers['x-request-id']);
      assert.ok(orig, 'the copy carries the original X-Request-Id');
      assert.equal(c.method, orig.method);
      assert.equal(c.url, orig.url);
      assert.equal(c.body, orig.body);
      assert.equal(orig.headers['x-cutover-mirror'], undefined);
    }
    const stats = gw.stats.report().web.revisions;
    assert.equal(stats['1'].requests, n);
    assert.equal(stats['1'].status['2xx'], n);
    assert.equal(stats['1'].latencyCount, n);
    assert.equal(stats['1'].role, 'stable');
    assert.equal(stats['2'].role, 'canary');
    assert.equal(stats['2'].requests, 0, 'mirror copies are not client requests');
    assert.deepEqual(stats['2'].mirror.status, { '2xx': copies.length, '3xx': 0, '4xx': 0, '5xx': 0 });
    assert.equal(stats['2'].mirror.sent, copies.length);
    assert.equal(stats['2'].mirror.skipped, 0);
    assert.equal(stats['2'].mirror.errors, 0);
    assert.equal(stats['2'].mirror.latencyCount, copies.length);
    assert.deepEqual(gw.inflight(), { s1: 0, c1: 0 });
  },
);

test('mirror: bodies over maxBodyBytes are skipped; method and path filters apply', T, async (t) => {
  const { stable, canary, port, gw } = await mirrorSetup(t, {
    percent: 100,
    methods: ['POST', 'get'],
    pathPrefix: '/api',
    maxBodyBytes: 100,
  });
  const small = 'x'.repeat(100);
  const big = 'y'.repeat(101);
  const sent: [string, string, string | undefined, boolean][] = [
    ['POST', '/api/a', small, false],
    ['POST', '/api/b', big, false],
    ['POST', '/api/c', small, true],
    ['POST', '/api/d', big, true],
    ['POST', '/api/e', `${small}${big}${big}`, true],
    ['GET', '/api', undefined, false],
    ['GET', '/apix', undefined, false],
    ['GET', '/other', undefined, false],
    ['PUT', '/api/f', small, false],
  ];
  for (const [method, path, body, chunked] of sent) {
    const r = await request(port, path, {
      method,
      body,
      headers: chunked ? { 'Transfer-Encoding': 'chunked' } : undefined,
    });
    assert.equal(r.body, `stable ${method} ${body ?? ''}`);
  }
  assert.equal(stable.requests.length, sent.length);
  await waitFor(() => gw.mirrorsInFlight === 0, 5000, 'mirrors to finish');
  assert.deepEqual(
    canary.requests.map((r) => `${r.method} ${r.url} ${r.body.length}`),
    ['POST /api/a 100', 'POST /api/c 100', 'GET /api 0'],
  );
  const m = gw.stats.report().web.revisions['2'].mirror;
  assert.equal(m.sent, 3);
  assert.equal(m.skipped, 3, 'the three large bodies; filtered-out requests are not counted');
});

test(
  'mirror: a canary that hangs or resets neither delays nor fails clients; concurrency is bounded',
  T,
  async (t) => {
    const held: http.ServerResponse[] = [];
    // The mirrors' upstream timeout is far beyond the test, so a held copy can only end when the test resets it.
    const { stable, port, gw } = await mirrorSetup(
      t,
      { percent: 100, maxBodyBytes: 1024 },
      (_req, res) => {
        held.push(res); // never answers
      },
      { upstreamTimeoutMs: 60_000 },
    );
    for (let i = 0; i < 20; i++) {
      const r = await request(port, `/seq/${i}`, { method: 'POST', body: `b${i}` });
      assert.equal(r.status, 200);
      assert.equal(r.body, `stable POST b${i}`);
    }
    await waitFor(() => held.length === 20, 5000, 'mirror copies to arrive');
    // Every client got its answer while all 20 copies are still unanswered: no client waited for its mirror.
    // A running mirror holds its canary instance busy (drain waits for it).
    assert.deepEqual(gw.inflight(), { s1: 0, c1: 20 }, 'all 20 mirror copies still in flight');

    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
    t.after(() => agent.destroy());
    const burst = await Promise.all(
      Array.from({ length: 100 }, (_, i) => request(port, `/burst/${i}`, { agent })),
    );
    assert.ok(burst.every((r) => r.status === 200 && r.body === 'stable GET '));
    await waitFor(() => held.length === MAX_MIRRORS_IN_FLIGHT, 5000, 'the mirror bound to fill');
    let m = gw.stats.report().web.revisions['2'].mirror;
    assert.equal(m.sent, MAX_MIRRORS_IN_FLIGHT);
    assert.equal(m.skipped, 120 - MAX_MIRRORS_IN_FLIGHT);
    assert.equal(gw.mirrorsInFlight, MAX_MIRRORS_IN_FLIGHT);

    // The canary now resets every connection, held ones included.
    for (const res of held) res.socket?.destroy();
    await waitFor(() => gw.mirrorsInFlight === 0, 5000, 'held mirrors to fail');
    m = gw.stats.report().web.revisions['2'].mirror;
    assert.equal(m.errors, MAX_MIRRORS_IN_FLIGHT);
    assert.equal(gw.inflight().c1, 0);
    // A canary that resets every connection.
    const reset = await startUpstream(t, 'reset', (req) => req.socket.destroy());
    const ups = [roleUpstream('s1', stable.port, 'stable', 1), roleUpstream('c2', reset.port, 'canary', 3)];
    gw.applyTable(
      table(
        2,
        service('web', ups, {
          traffic: { canaryWeight: 0, rules: [], mirror: { percent: 100, maxBodyBytes: 10 } },
        }),
      ),
    );
    for (let i = 0; i < 10; i++) assert.equal((await request(port, `/r/${i}`)).body, 'stable GET ');
    await waitFor(() => gw.mirrorsInFlight === 0, 5000, 'reset mirrors to fail');
    const r3 = gw.stats.report().web.revisions['3'].mirror;
    assert.equal(r3.sent, 10);
    assert.equal(r3.errors, 10);
    assert.deepEqual(r3.status, { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 });
  },
);

test('a client cannot send X-Cutover-Mirror upstream', T, async (t) => {
  const { stable, ups } = await stableAndCanary(t);
  const { port } = await startGateway(t, table(1, service('web', ups)));
  await request(port, '/', { headers: { 'X-Cutover-Mirror': '1' } });
  await request(port, '/', { headers: { 'X-Cutover-Mirror': '1' } });
  assert.ok(stable.requests.length > 0);
  assert.ok(stable.requests.every((r) => r.headers['x-cutover-mirror'] === undefined));
});

test(
  'stats: per revision status classes, latency and gateway errors attributed where known',
  T,
  async (t) => {
    const ok = await startUpstream(t, 'ok', (req, res) => {
      res.statusCode =
        req.url === '/missing' ? 404 : req.url === '/moved' ? 301 : req.url === '/boom' ? 500 : 200;
      res.end();
    });
    const dead = await deadPort();
    const traffic: RouteTraffic = {
      canaryWeight: 0,
      rules: [{ match: { header: { 'x-c': { exact: '1' } } }, to: 'canary' }],
      preview: { header: 'x-p', value: '1' },
    };
    const ups = [roleUpstream('s1', ok.port, 'stable', 1), roleUpstream('c1', dead, 'canary', 2)];
    const { gw, port } = await startGateway(t, table(1, service('web', ups, { traffic })), { retries: 0 });
    for (const path of ['/', '/a', '/missing', '/moved', '/boom']) await request(port, path);
    for (let i = 0; i < 3; i++)
      assert.equal((await request(port, '/', { headers: { 'x-c': '1' } })).status, 502);
    for (let i = 0; i < 2; i++)
      assert.equal((await request(port, '/', { headers: { 'x-p': '1' } })).status, 503);
    const s = gw.stats.report().web;
    assert.equal(s.errors, 2, 'no preview instance: nothing to attribute to');
    assert.deepEqual(
      { ...s.revisions['1'], latencyMsSum: 0, latencyBuckets: [] },
      {
        role: 'stable',
        version: 'v1',
        requests: 5,
        status: { '2xx': 2, '3xx': 1, '4xx': 1, '5xx': 1 },
        methods: { GET: { '2xx': 2, '3xx': 1, '4xx': 1, '5xx': 1, none: 0, other: 0 } },
        latencyBuckets: [],
        upstreamErrors: { connect: 0, reset: 0, timeout: 0, other: 0 },
        errors: 0,
        latencyMsSum: 0,
        latencyCount: 5,
        mirror: {
          sent: 0,
          skipped: 0,
          status: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
          errors: 0,
          latencyMsSum: 0,
          latencyCount: 0,
        },
      },
    );
    assert.ok(s.revisions['1'].latencyMsSum > 0);
    assert.equal(s.revisions['2'].requests, 3);
    assert.equal(s.revisions['2'].errors, 3);
    assert.equal(s.revisions['2'].status['5xx'], 3);
  },
);

test('master: GET /stats sums the workers; a bad pattern is a 400 naming its path', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const { stable, canary, ups } = await stableAndCanary(t);
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 2 }));
  const traffic: RouteTraffic = {
    canaryWeight: 0,
    rules: [{ match: { header: { 'X-Beta': { regex: '^on$' } } }, to: 'canary' }],
  };
  const routes = table(1, service('web', ups, { traffic }));
  assert.deepEqual(await admin(gw.admin, 'PUT', '/routes', routes), { status: 200, json: { version: 1 } });

  const bad = table(
    2,
    service('web', ups, {
      traffic: { canaryWeight: 0, rules: [{ match: { userAgent: '(\\w+\\s?)+$' }, to: 'canary' }] },
    }),
  );
  const rejected = await admin(gw.admin, 'PUT', '/routes', bad);
  assert.equal(rejected.status, 400);
  assert.match(
    String(rejected.json.error),
    /services\[0\] \("web"\)\.traffic\.rules\[0\]\.match\.userAgent: nested quantifier/,
  );
  assert.equal((await admin(gw.admin, 'GET', '/routes')).json.version, 1, 'the table was not applied');

  // Fresh connections, so both workers take a share.
  for (let i = 0; i < 40; i++)
    assert.equal((await request(gw.port, '/', { headers: { 'X-Beta': 'on' } })).body, 'ok canary');
  for (let i = 0; i < 60; i++) assert.equal((await request(gw.port, '/')).body, 'ok stable');
  assert.equal(canary.requests.length, 40);
  assert.equal(stable.requests.length, 60);

  const stats = await admin(gw.admin, 'GET', '/stats');
  assert.equal(stats.status, 200);
  assert.equal(stats.json.workers, 2);
  const web = (
    stats.json.services as Record<
      string,
      {
        errors: number;
        revisions: Record<
          string,
          { role: string; requests: number; status: Record<string, number>; latencyCount: number }
        >;
      }
    >
  ).web;
  assert.equal(web.errors, 0);
  assert.equal(web.revisions['1'].role, 'stable');
  assert.equal(web.revisions['1'].requests, 60);
  assert.equal(web.revisions['1'].status['2xx'], 60);
  assert.equal(web.revisions['1'].latencyCount, 60);
  assert.equal(web.revisions['2'].role, 'canary');
  assert.equal(web.revisions['2'].requests, 40);
  assert.equal(web.revisions['2'].status['2xx'], 40);
});

test('a running mirror request keeps its retired canary instance counted until it ends', T, async (t) => {
  const held: http.ServerResponse[] = [];
  const { port, gw, stable } = await mirrorSetup(t, { percent: 100, maxBodyBytes: 0 }, (_req, res) => {
    held.push(res);
  });
  assert.equal((await request(port, '/x')).body, 'stable GET ');
  await waitFor(() => held.length === 1, 5000, 'the mirror copy');
  // The canary leaves the table (promotion/abort): it is retired but still busy with the mirror.
  gw.applyTable(table(2, service('web', [roleUpstream('s1', stable.port, 'stable', 1)])));
  assert.deepEqual(gw.inflight(), { s1: 0, c1: 1 });
  assert.equal(gw.retired.size, 1);
  held[0].end('late');
  await waitFor(() => gw.retired.size === 0, 5000, 'the retired canary to be released');
  assert.deepEqual(gw.inflight(), { s1: 0 });
  assert.deepEqual(gw.stats.report().web.revisions['2'].mirror.status['2xx'], 1);
});

test('mirror requests that get no response end at upstreamTimeoutMs and count as errors', T, async (t) => {
  const { port, gw } = await mirrorSetup(t, { percent: 100, maxBodyBytes: 0 }, () => {}, {
    upstreamTimeoutMs: 300,
  });
  for (let i = 0; i < 5; i++) assert.equal((await request(port, `/t${i}`)).body, 'stable GET ');
  assert.equal(gw.inflight().c1, 5);
  await waitFor(() => gw.mirrorsInFlight === 0, 5000, 'mirror timeouts');
  const m = gw.stats.report().web.revisions['2'].mirror;
  assert.equal(m.sent, 5);
  assert.equal(m.errors, 5);
  assert.equal(gw.inflight().c1, 0);
});
