/** In-process gateway worker against real upstream servers on 127.0.0.1. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import {
  deadPort,
  Gate,
  request,
  service,
  startGateway,
  startUpstream,
  table,
  upstream,
  waitFor,
} from './helpers/gateway-helpers.ts';

const T = { timeout: 20_000 };

test('routes by host and longest path prefix, 404 without a route, 503 without instances', T, async (t) => {
  const web = await startUpstream(t, 'web');
  const api = await startUpstream(t, 'api');
  const admin = await startUpstream(t, 'admin');
  const routes = table(
    1,
    service('web', [upstream('web-1', web.port)]),
    service('api', [upstream('api-1', api.port)], { pathPrefix: '/api' }),
    service('admin', [upstream('admin-1', admin.port)], { host: 'Admin.Example.com', pathPrefix: '/' }),
    service('empty', [], { host: 'empty.example.com', pathPrefix: '/x' }),
  );
  const { port } = await startGateway(t, routes);
  assert.equal((await request(port, '/')).body, 'ok web');
  assert.equal((await request(port, '/api')).body, 'ok api');
  assert.equal((await request(port, '/api/v1/users?x=1')).body, 'ok api');
  assert.equal((await request(port, '/api?x=1')).body, 'ok api');
  assert.equal((await request(port, '/apix')).body, 'ok web', '/api must not match /apix');
  assert.equal((await request(port, '/api', { host: 'admin.example.com:8080' })).body, 'ok admin');
  assert.equal((await request(port, '/', { host: 'ADMIN.example.com' })).body, 'ok admin');

  const unavailable = await request(port, '/x/y', { host: 'empty.example.com' });
  assert.equal(unavailable.status, 503);
  assert.equal(unavailable.body, 'cutover: no ready instance for service "empty"\n');
  assert.ok(unavailable.headers['x-request-id']);

  const { port: port2 } = await startGateway(
    t,
    table(1, service('only', [upstream('o', web.port)], { host: 'a.test' })),
  );
  const missing = await request(port2, '/nothing', { host: 'b.test' });
  assert.equal(missing.status, 404);
  assert.match(missing.body, /no route for host "b\.test" path "\/nothing"/);
  assert.ok(missing.headers['x-request-id']);
});

test(
  'strips hop-by-hop headers before adding X-Forwarded-*, so Connection cannot remove them',
  T,
  async (t) => {
    const up = await startUpstream(t, 'web', (_req, res) => {
      res.writeHead(200, [
        'Connection',
        'X-Upstream-Secret',
        'X-Upstream-Secret',
        'hidden',
        'Keep-Alive',
        'timeout=77, max=3',
        'X-Kept',
        'yes',
      ]);
      res.end('done');
    });
    const { port } = await startGateway(t, table(1, service('web', [upstream('w', up.port)])));
    const reply = await request(port, '/h', {
      headers: [
        'Connection',
        'X-Forwarded-For, X-Request-Id, x-custom-hop, keep-alive',
        'X-Custom-Hop',
        'drop me',
        'Keep-Alive',
        'timeout=100',
        'TE',
        'trailers',
        'Proxy-Connection',
        'keep-alive',
        'X-Forwarded-For',
        '10.0.0.1',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'spoofed.example',
        'X-End-To-End',
        'kept',
      ],
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'done');
    const got = up.requests[0].headers;
    assert.equal(got['x-custom-hop'], undefined);
    assert.equal(got['keep-alive'], undefined);
    assert.equal(got.te, undefined);
    assert.equal(got['proxy-connection'], undefined);
    assert.equal(got['x-end-to-end'], 'kept');
    // The client's Connection header named X-Forwarded-For: the gateway's own value still arrives, with the
    // client's chain (stripped by Connection) replaced by the real peer.
    assert.equal(got['x-forwarded-for'], '127.0.0.1');
    assert.equal(got['x-forwarded-proto'], 'http');
    assert.equal(got['x-forwarded-host'], `127.0.0.1:${port}`);
    assert.equal(got.host, `127.0.0.1:${port}`, 'original Host is kept');
    assert.ok(got['x-request-id'], 'X-Request-Id is added even when Connection names it');
    // Response side
    assert.equal(reply.headers['x-upstream-secret'], undefined);
    assert.notEqual(reply.headers['keep-alive'], 'timeout=77, max=3');
    assert.equal(reply.headers['x-kept'], 'yes');
  },
);

test('X-Forwarded-For from a trusted proxy: the client address is appended to the chain', T, async (t) => {
  const up = await startUpstream(t, 'web');
  const { port } = await startGateway(t, table(1, service('web', [upstream('w', up.port)])), {
    trustedProxies: ['127.0.0.1'],
  });
  await request(port, '/', { headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(up.requests[0].headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
});

test('X-Request-Id is kept when the client sends one and generated (unique) otherwise', T, async (t) => {
  const up = await startUpstream(t, 'web');
  const { port } = await startGateway(t, table(1, service('web', [upstream('w', up.port)])));
  await request(port, '/', { headers: { 'x-request-id': 'client-chosen-42' } });
  await request(port, '/');
  await request(port, '/');
  assert.equal(up.requests[0].headers['x-request-id'], 'client-chosen-42');
  const a = up.requests[1].headers['x-request-id'];
  const b = up.requests[2].headers['x-request-id'];
  assert.ok(typeof a === 'string' && a.length > 0);
  assert.notEqual(a, b);
});

test('keep-alive connections are reused on both the client and the upstream side', T, async (t) => {
  const up = await startUpstream(t, 'web');
  const { port } = await startGateway(t, table(1, service('web', [upstream('w', up.port)])));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const replies = [];
  for (let i = 0; i < 5; i++) replies.push(await request(port, `/r${i}`, { agent }));
  assert.deepEqual(
    replies.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  assert.deepEqual(
    replies.map((r) => r.reusedSocket),
    [false, true, true, true, true],
  );
  assert.equal(up.connections, 1, 'one upstream connection for five sequential requests');
});

test('request and response bodies are streamed through intact', T, async (t) => {
  const up = await startUpstream(t, 'echo', (_req, res, rec) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${rec.method} ${rec.body.length} ${rec.body.slice(0, 8)}`);
  });
  const { port } = await startGateway(t, table(1, service('echo', [upstream('e', up.port)])));
  const body = 'abcdefgh'.repeat(20_000);
  const reply = await request(port, '/upload', { method: 'POST', body });
  assert.equal(reply.body, `POST ${body.length} abcdefgh`);
  // chunked request body (no Content-Length)
  const chunked = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/c', method: 'PUT', agent: false }, (res) => {
      let s = '';
      res.on('data', (c) => {
        s += c;
      });
      res.on('end', () => resolve(s));
    });
    req.on('error', reject);
    req.write('12345');
    setTimeout(() => req.end('67890'), 20);
  });
  assert.equal(chunked, 'PUT 10 12345678');
  assert.equal(up.requests[1].headers['transfer-encoding'], 'chunked');
});

test(
  'retries on another instance when the connection is refused (all GETs and POSTs succeed)',
  T,
  async (t) => {
    const live = await startUpstream(t, 'live');
    const dead = await deadPort();
    const { port } = await startGateway(
      t,
      table(1, service('web', [upstream('dead', dead), upstream('live', live.port)])),
      { ejectAfterFailures: 1000 },
    );
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? request(port, `/g${i}`)
          : request(port, `/p${i}`, { method: 'POST', body: `body-${i}` }),
      ),
    );
    assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
    assert.equal(live.requests.length, 20);
    for (const rec of live.requests)
      if (rec.method === 'POST') assert.equal(rec.body, `body-${rec.url.slice(2)}`);
  },
);

test(
  'binary response bodies arrive byte for byte: every byte value, small (one write with the head) and large',
  T,
  async (t) => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const bodies: Record<string, Buffer> = {
      '/small': every,
      '/edge': Buffer.concat([every, every, every, every, every, every, every, every]),
      '/large': Buffer.concat(Array.from({ length: 400 }, () => every)),
    };
    const up = await startUpstream(t, 'bin', (req, res) => {
      const body = bodies[req.url ?? ''] ?? Buffer.alloc(0);
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', body.length);
      res.end(body);
    });
    const { port } = await startGateway(t, table(1, service('bin', [upstream('b', up.port)])));
    for (const [path, body] of Object.entries(bodies)) {
      const got = await new Promise<Buffer>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          })
          .on('error', reject);
      });
      assert.equal(got.length, body.length, path);
      assert.ok(got.equals(body), `${path}: the bytes differ`);
    }
  },
);

test('connect failure on every instance gives 502 naming the service', T, async (t) => {
  const { port } = await startGateway(
    t,
    table(1, service('web', [upstream('d1', await deadPort()), upstream('d2', await deadPort())])),
  );
  const reply = await request(port, '/');
  assert.equal(reply.status, 502);
  assert.equal(reply.body, 'cutover: could not connect to any instance of service "web"\n');
  assert.ok(reply.headers['x-request-id']);
});

/**
 * A raw upstream that answers the first request on each connection and resets the connection (no
 * response byte) on the second one: the keep-alive reuse race, made deterministic.
 */
async function resetOnReuseUpstream(
  t: import('node:test').TestContext,
): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let count = 0;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end = buf.indexOf('\r\n\r\n');
      while (end !== -1) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        seen.push(head.split('\r\n')[0]);
        count++;
        if (count === 1)
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nfirst');
        else {
          socket.resetAndDestroy();
          return;
        }
        end = buf.indexOf('\r\n\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, seen };
}

test('keep-alive-reuse-race retries idempotent GET on a fresh connection', T, async (t) => {
  const raw = await resetOnReuseUpstream(t);
  const { port } = await startGateway(t, table(1, service('web', [upstream('raw', raw.port)])));
  assert.equal((await request(port, '/one')).body, 'first');
  const second = await request(port, '/two');
  assert.equal(second.status, 200);
  assert.equal(second.body, 'first', 'answered by the first request of a new connection');
  assert.deepEqual(raw.seen, ['GET /one HTTP/1.1', 'GET /two HTTP/1.1', 'GET /two HTTP/1.1']);
});

test('keep-alive-reuse-race does not retry POST (502, sent once)', T, async (t) => {
  const raw = await resetOnReuseUpstream(t);
  const { port } = await startGateway(t, table(1, service('web', [upstream('raw', raw.port)])));
  assert.equal((await request(port, '/one', { method: 'POST' })).body, 'first');
  const second = await request(port, '/two', { method: 'POST' });
  assert.equal(second.status, 502);
  assert.match(second.body, /service "web" failed before responding/);
  assert.deepEqual(raw.seen, ['POST /one HTTP/1.1', 'POST /two HTTP/1.1']);
});

test('an upstream slower than upstreamTimeoutMs gets 504', T, async (t) => {
  const slow = await startUpstream(t, 'slow', (_req, res) => {
    const timer = setTimeout(() => res.end('late'), 3000);
    res.on('close', () => clearTimeout(timer));
  });
  const { port, gw } = await startGateway(t, table(1, service('slow', [upstream('s', slow.port)])), {
    upstreamTimeoutMs: 300,
  });
  // The upstream answers after 3 s: a 504 (not its 200 "late") is the proof the gateway did not wait for it.
  const reply = await request(port, '/');
  assert.equal(reply.status, 504);
  assert.match(reply.body, /service "slow" did not send response headers within 300ms/);
  assert.equal(slow.requests.length, 1, 'the request did reach the slow upstream');
  assert.deepEqual(gw.inflight(), { s: 0 });
});

test('request bodies over maxBodyBytes get 413 (Content-Length and chunked)', T, async (t) => {
  const up = await startUpstream(t, 'web', (_req, res, rec) => res.end(`got ${rec.body.length}`));
  const { port, gw } = await startGateway(t, table(1, service('web', [upstream('w', up.port)])), {
    maxBodyBytes: 1000,
  });
  const ok = await request(port, '/', { method: 'POST', body: 'x'.repeat(1000) });
  assert.equal(ok.body, 'got 1000');
  const tooBig = await request(port, '/', { method: 'POST', body: 'x'.repeat(1001) });
  assert.equal(tooBig.status, 413);
  assert.match(tooBig.body, /larger than 1000 bytes/);
  assert.equal(tooBig.headers.connection, 'close');
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.write('y'.repeat(600));
    setTimeout(() => req.write('y'.repeat(600)), 30);
  });
  assert.equal(chunked, 413);
  assert.equal(up.requests.length, 1, 'only the in-limit request reached the upstream completely');
  await waitFor(() => gw.totalInflight() === 0, 2000, 'in-flight back to 0');
});

test('an instance with ejectAfterFailures connect failures is skipped for ejectForMs', T, async (t) => {
  const live = await startUpstream(t, 'live');
  const { port, gw } = await startGateway(
    t,
    table(1, service('web', [upstream('dead', await deadPort()), upstream('live', live.port)])),
    { ejectAfterFailures: 2, ejectForMs: 60_000 },
  );
  // Taken before the ejection, so the check holds however long the requests take on a busy machine.
  const before = Date.now();
  for (let i = 0; i < 12; i++) assert.equal((await request(port, `/${i}`)).status, 200);
  const dead = gw.instances.get('dead')!;
  assert.equal(dead.failures, 2, 'not tried again once ejected');
  assert.ok(dead.ejectedUntil >= before + 60_000, 'ejected for ejectForMs');
  assert.equal(live.requests.length, 12);
});

test('an ejected instance is still used when it is the only one left', T, async (t) => {
  const { port, gw } = await startGateway(t, table(1, service('web', [upstream('dead', await deadPort())])), {
    ejectAfterFailures: 1,
  });
  assert.equal((await request(port, '/')).status, 502);
  assert.equal((await request(port, '/')).status, 502);
  assert.equal(gw.instances.get('dead')!.failures, 2);
});

test('roundRobin spreads requests evenly', T, async (t) => {
  const ups = [await startUpstream(t, 'a'), await startUpstream(t, 'b'), await startUpstream(t, 'c')];
  const { port } = await startGateway(
    t,
    table(
      1,
      service(
        'web',
        ups.map((u, i) => upstream(`i${i}`, u.port)),
        { balance: 'roundRobin' },
      ),
    ),
  );
  for (let i = 0; i < 30; i++) await request(port, '/');
  assert.deepEqual(
    ups.map((u) => u.requests.length),
    [10, 10, 10],
  );
});

test('leastInFlight sends new requests to the instance with fewer requests running', T, async (t) => {
  const gate = new Gate();
  const slow = await startUpstream(t, 'slow', (_req, res) => gate.hold(() => res.end('slow')));
  const fast = await startUpstream(t, 'fast');
  const { port, gw } = await startGateway(
    t,
    table(
      1,
      service('web', [upstream('slow', slow.port), upstream('fast', fast.port)], {
        balance: 'leastInFlight',
      }),
    ),
  );
  t.after(() => gate.releaseAll());
  const held = request(port, '/held');
  await waitFor(() => gate.size === 1 || fast.requests.length === 1, 2000, 'first request');
  if (gate.size === 0) {
    // The first request went to "fast" (tie); pin one on "slow".
    const second = request(port, '/held2');
    await waitFor(() => gate.size === 1, 2000, 'held request');
    void second;
  }
  const fastBefore = fast.requests.length;
  for (let i = 0; i < 10; i++) assert.equal((await request(port, `/f${i}`)).body, 'ok fast');
  assert.equal(fast.requests.length - fastBefore, 10);
  assert.equal(gw.inflight().slow, 1);
  gate.releaseAll();
  assert.equal((await held).status, 200);
});

test('in-flight counts are exact per instance while requests are held, and return to 0', T, async (t) => {
  const gate = new Gate();
  const a = await startUpstream(t, 'a', (_req, res) => gate.hold(() => res.end('a')));
  const b = await startUpstream(t, 'b', (_req, res) => gate.hold(() => res.end('b')));
  const { port, gw } = await startGateway(
    t,
    table(
      1,
      service('sa', [upstream('a-1', a.port)], { pathPrefix: '/a' }),
      service('sb', [upstream('b-1', b.port)], { pathPrefix: '/b' }),
    ),
  );
  t.after(() => gate.releaseAll());
  const pending = [
    request(port, '/a/1'),
    request(port, '/a/2'),
    request(port, '/a/3'),
    request(port, '/b/1'),
    request(port, '/b/2'),
  ];
  await waitFor(() => gate.size === 5, 3000, 'five held requests');
  assert.deepEqual(gw.inflight(), { 'a-1': 3, 'b-1': 2 });
  // A client that gives up mid-request must not leak a count.
  const aborted = http.get({ host: '127.0.0.1', port, path: '/a/abort', agent: false });
  aborted.on('error', () => {});
  await waitFor(() => gate.size === 6, 3000, 'sixth held request');
  assert.equal(gw.inflight()['a-1'], 4);
  aborted.destroy();
  await waitFor(() => gw.inflight()['a-1'] === 3, 3000, 'abort released');
  gate.releaseAll();
  const replies = await Promise.all(pending);
  assert.deepEqual(
    replies.map((r) => r.body),
    ['a', 'a', 'a', 'b', 'b'],
  );
  await waitFor(() => gw.totalInflight() === 0, 2000, 'all done');
  assert.deepEqual(gw.inflight(), { 'a-1': 0, 'b-1': 0 });
});

test(
  'a route change retires an instance: its 3-second request completes 200 and stays counted until done',
  T,
  async (t) => {
    const old = await startUpstream(t, 'old', (_req, res) => {
      setTimeout(() => res.end('old finished'), 3000);
    });
    const next = await startUpstream(t, 'new');
    const { port, gw } = await startGateway(t, table(1, service('web', [upstream('old-1', old.port)])));
    const slow = request(port, '/slow');
    await waitFor(() => gw.inflight()['old-1'] === 1, 2000, 'slow request in flight');
    gw.applyTable(table(2, service('web', [upstream('new-1', next.port)])));
    assert.deepEqual(gw.inflight(), { 'new-1': 0, 'old-1': 1 });
    assert.equal((await request(port, '/fresh')).body, 'ok new', 'new requests go to the new instance');
    assert.equal(old.requests.length, 1);
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'old finished');
    assert.deepEqual(gw.inflight(), { 'new-1': 0 }, 'retired instance dropped once idle');
    // Its pool is closed: no upstream connection left open to the retired instance.
    await waitFor(
      () => new Promise((resolve) => old.server.getConnections((_e, n) => resolve(n === 0))),
      3000,
      'retired pool closed',
    );
  },
);

test('applying the same table again keeps instances (and their pools) alive', T, async (t) => {
  const up = await startUpstream(t, 'web');
  const routes = table(1, service('web', [upstream('w', up.port)]));
  const { port, gw } = await startGateway(t, routes);
  await request(port, '/');
  const before = gw.instances.get('w');
  gw.applyTable(table(2, service('web', [upstream('w', up.port)])));
  assert.equal(gw.instances.get('w'), before);
  assert.equal(before!.retired, false);
  await request(port, '/');
  assert.equal(up.connections, 1);
});

test(
  'a client that does not finish its request head within requestHeadTimeoutMs gets 408 and is closed',
  T,
  async (t) => {
    const up = await startUpstream(t, 'web');
    const { port } = await startGateway(t, table(1, service('web', [upstream('w', up.port)])), {
      requestHeadTimeoutMs: 300,
    });
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    let response = '';
    s.on('data', (d) => {
      response += d.toString('latin1');
    });
    s.write('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ');
    // The client never finishes its head: only the gateway's timeout can close the socket.
    await new Promise<void>((resolve) => s.on('close', () => resolve()));
    assert.match(response, /^HTTP\/1\.1 408 /);
    assert.equal(up.requests.length, 0);
  },
);
