/**
 * Gateway metrics, access log and trace context against real servers on loopback: per-method/status-class
 * counters, the latency histogram, upstream errors by kind, retries, ejections, in-flight; the master's
 * sum over workers and its monotonic counters across a worker crash; W3C traceparent pass-through and
 * creation (raw upstream that records the exact header bytes); JSON access log lines.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import type { ServiceStats, StatsReport } from '../src/gateway/protocol.ts';
import { LATENCY_BUCKETS_SECONDS } from '../src/gateway/protocol.ts';
import { latencyBucket } from '../src/gateway/stats.ts';
import { isValidTraceparent, newTraceparent } from '../src/gateway/trace.ts';
import {
  closeServer,
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
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

const T = { timeout: 30_000 };
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

test('latencyBucket: bounds are inclusive upper bounds, the last index is +Inf', () => {
  assert.equal(LATENCY_BUCKETS_SECONDS.length, 17);
  assert.equal(latencyBucket(0), 0);
  assert.equal(latencyBucket(1), 0, 'le="0.001" includes 1 ms');
  assert.equal(latencyBucket(1.0001), 1);
  assert.equal(latencyBucket(300), LATENCY_BUCKETS_SECONDS.indexOf(0.5));
  assert.equal(latencyBucket(30_000), LATENCY_BUCKETS_SECONDS.length - 1);
  assert.equal(latencyBucket(30_001), LATENCY_BUCKETS_SECONDS.length);
});

test(
  'stats: methods x status classes, histogram, connect/reset/timeout errors, retries, ejections',
  T,
  async (t) => {
    const ok = await startUpstream(t, 'ok', (req, res) => {
      const m = /^\/s\/(\d{3})$/.exec(req.url ?? '');
      res.statusCode = m ? Number(m[1]) : 200;
      res.end('x'.repeat(10));
    });
    const gate = new Gate();
    t.after(() => gate.releaseAll());
    // Called when the hanging upstream got a request (the client that leaves early waits for it).
    let onHang = () => {};
    const hang = await startUpstream(t, 'hang', (_req, res) => {
      gate.hold(() => res.end());
      onHang();
    });
    const reset = await startUpstream(t, 'reset', (req) => req.socket.destroy());
    const dead = await deadPort();
    const routes = table(
      1,
      service('web', [upstream('w1', ok.port), upstream('w2', dead)]),
      service('hang', [upstream('h1', hang.port)], { pathPrefix: '/t' }),
      service('reset', [upstream('r1', reset.port)], { pathPrefix: '/r' }),
    );
    const { gw, port } = await startGateway(t, routes, {
      upstreamTimeoutMs: 300,
      ejectAfterFailures: 1,
      ejectForMs: 60_000,
      retries: 2,
    });
    // Round robin: the 2nd request picks w2 (dead): connect error, w2 ejected, retried on w1.
    const plan: Array<[string, string, number]> = [
      ['GET', '/', 200],
      ['GET', '/', 200],
      ['GET', '/s/404', 404],
      ['HEAD', '/', 200],
      ['POST', '/s/201', 201],
      ['PUT', '/s/500', 500],
      ['DELETE', '/s/302', 302],
      ['PATCH', '/', 200],
      ['OPTIONS', '/', 200],
      ['PURGE', '/', 200],
    ];
    for (const [method, p, status] of plan) {
      assert.equal(
        (await request(port, p, { method, body: method === 'POST' ? 'b' : undefined })).status,
        status,
      );
    }
    assert.equal((await request(port, '/t')).status, 504, 'upstream timeout');
    assert.equal((await request(port, '/r')).status, 502, 'reset before any response byte');
    // A client that leaves before the response head: code class none.
    await new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/t/gone', agent: false });
      req.on('error', () => resolve());
      // Leaves once its request is at the upstream, well before the 300 ms upstream timeout.
      onHang = () => req.destroy();
    });
    await waitFor(() => gw.totalInflight() === 0, 5000, 'requests done');

    const report = gw.statsReport();
    const web = report.web;
    const r1 = web.revisions['1'];
    assert.equal(r1.version, 'v1');
    assert.equal(r1.requests, plan.length);
    assert.deepEqual(r1.methods, {
      GET: { '2xx': 2, '3xx': 0, '4xx': 1, '5xx': 0, none: 0, other: 0 },
      HEAD: { '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0, none: 0, other: 0 },
      POST: { '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0, none: 0, other: 0 },
      PUT: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 1, none: 0, other: 0 },
      DELETE: { '2xx': 0, '3xx': 1, '4xx': 0, '5xx': 0, none: 0, other: 0 },
      PATCH: { '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0, none: 0, other: 0 },
      OPTIONS: { '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0, none: 0, other: 0 },
      other: { '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0, none: 0, other: 0 },
    });
    assert.equal(r1.latencyBuckets.length, LATENCY_BUCKETS_SECONDS.length + 1);
    assert.equal(sum(r1.latencyBuckets), r1.latencyCount);
    assert.equal(r1.latencyCount, plan.length);
    assert.deepEqual(r1.upstreamErrors, { connect: 1, reset: 0, timeout: 0, other: 0 });
    assert.equal(web.retries, 1);
    assert.deepEqual(web.instances, {
      w1: { revision: 1, inflight: 0, ejections: 0 },
      w2: { revision: 1, inflight: 0, ejections: 1, ejected: true },
    });

    const h = report.hang.revisions['1'];
    assert.deepEqual(h.upstreamErrors, { connect: 0, reset: 0, timeout: 1, other: 0 });
    assert.equal(h.errors, 1, 'the 504 is gateway-generated');
    assert.deepEqual(h.methods.GET, { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 1, none: 1, other: 0 });
    assert.equal(h.requests, 2);
    assert.equal(h.latencyCount, 1, 'only requests that got a response are timed');
    const slowFrom = LATENCY_BUCKETS_SECONDS.indexOf(0.25) + 1;
    assert.equal(sum(h.latencyBuckets.slice(slowFrom)), 1, 'the 504 took more than 250 ms');

    const rr = report.reset.revisions['1'];
    assert.deepEqual(rr.upstreamErrors, { connect: 0, reset: 1, timeout: 0, other: 0 });
    assert.deepEqual(rr.methods.GET, { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 1, none: 0, other: 0 });
  },
);

test('stats: in-flight per instance while requests are held', T, async (t) => {
  const gate = new Gate();
  t.after(() => gate.releaseAll());
  const up = await startUpstream(t, 'a', (_req, res) => gate.hold(() => res.end('ok')));
  const { gw, port } = await startGateway(t, table(1, service('web', [upstream('a1', up.port)])));
  const pending = [request(port, '/'), request(port, '/'), request(port, '/')];
  await waitFor(() => gate.size === 3, 5000, 'requests held');
  assert.deepEqual(gw.statsReport().web.instances.a1, { revision: 1, inflight: 3, ejections: 0 });
  gate.releaseAll();
  await Promise.all(pending);
  assert.equal(gw.statsReport().web.instances.a1.inflight, 0);
});

function totals(s: Record<string, ServiceStats>): { requests: number; buckets: number; get2xx: number } {
  const r = s.web.revisions['1'];
  return { requests: r.requests, buckets: sum(r.latencyBuckets), get2xx: r.methods.GET?.['2xx'] ?? 0 };
}

test('master: /stats sums workers exactly; counters stay monotonic when a worker is killed', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const up = await startUpstream(t, 'a');
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 2 }));
  assert.equal(
    (await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('a1', up.port)])))).status,
    200,
  );
  const N = 120;
  // New connection per request: the kernel spreads them over both workers.
  for (let i = 0; i < N; i += 12) {
    await Promise.all(Array.from({ length: 12 }, () => request(gw.port, '/')));
  }
  const before = (await admin(gw.admin, 'GET', '/stats')).json as unknown as StatsReport;
  assert.equal(before.workers, 2);
  assert.deepEqual(totals(before.services), { requests: N, buckets: N, get2xx: N });

  // Kill both original workers in turn (whichever served the requests): the sums must not move.
  const original = ((await admin(gw.admin, 'GET', '/healthz')).json as { workerPids: number[] }).workerPids;
  assert.equal(original.length, 2);
  for (const [k, pid] of original.entries()) {
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => {
        const h = (await admin(gw.admin, 'GET', '/healthz')).json as { workerPids: number[] };
        return h.workerPids.length === 2 && !h.workerPids.includes(pid);
      },
      10_000,
      'worker re-forked',
    );
    const after = (await admin(gw.admin, 'GET', '/stats')).json as unknown as StatsReport;
    assert.equal(after.exitedWorkers, k + 1);
    assert.equal(after.workers, 2);
    assert.deepEqual(
      totals(after.services),
      { requests: N, buckets: N, get2xx: N },
      'nothing lost, nothing doubled',
    );
  }
  for (let i = 0; i < 10; i++) await request(gw.port, '/');
  const later = (await admin(gw.admin, 'GET', '/stats')).json as unknown as StatsReport;
  assert.deepEqual(totals(later.services), { requests: N + 10, buckets: N + 10, get2xx: N + 10 });
  assert.equal(later.services.web.instances.a1?.inflight, 0);
});

// ---- trace context --------------------------------------------------------------------------------------

interface RawUpstream {
  port: number;
  /** Raw request heads (latin1), in arrival order. */
  heads: string[];
}

/** A raw TCP upstream recording the exact request head bytes, answering 200 "ok". */
async function rawUpstream(t: TestContext): Promise<RawUpstream> {
  const state: RawUpstream = { port: 0, heads: [] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = '';
    socket.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      let end = buf.indexOf('\r\n\r\n');
      while (end !== -1) {
        state.heads.push(buf.slice(0, end));
        buf = buf.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        end = buf.indexOf('\r\n\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  t.after(() => {
    for (const s of sockets) s.destroy();
    return closeServer(server);
  });
  return state;
}

function headerValues(head: string, name: string): string[] {
  const out: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (line.slice(0, i).toLowerCase() === name) out.push(line.slice(i + 1).trim());
  }
  return out;
}

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('traceparent validation (W3C trace context level 1)', () => {
  assert.ok(isValidTraceparent(VALID));
  assert.ok(isValidTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'));
  assert.ok(
    isValidTraceparent(`cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever`),
    'future version',
  );
  for (const bad of [
    '',
    VALID.toUpperCase(),
    `${VALID}-x`,
    VALID.slice(0, 54),
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01',
    'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x',
  ]) {
    assert.equal(isValidTraceparent(bad), false, bad);
  }
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const tp = newTraceparent();
    assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.ok(isValidTraceparent(tp));
    ids.add(tp.slice(3, 35));
  }
  assert.equal(ids.size, 1000, 'trace ids do not repeat');
});

test(
  'traceparent: valid one (and tracestate) passes through; absent or invalid -> a new trace upstream',
  T,
  async (t) => {
    const up = await rawUpstream(t);
    const { port } = await startGateway(t, table(1, service('web', [upstream('a1', up.port)])));
    const send = (headers: string[]) => request(port, '/', { headers });

    await send([
      'traceparent',
      VALID,
      'tracestate',
      'congo=t61rcWkgMzE',
      'tracestate',
      'rojo=00f067aa0ba902b7',
    ]);
    await send([]);
    await send([]);
    await send(['traceparent', VALID.toUpperCase(), 'tracestate', 'congo=x']);
    await send(['traceparent', VALID, 'traceparent', VALID]);
    await send(['Connection', 'traceparent', 'traceparent', VALID]);
    assert.equal(up.heads.length, 6);
    const tp = up.heads.map((h) => headerValues(h, 'traceparent'));
    const ts = up.heads.map((h) => headerValues(h, 'tracestate'));
    for (const v of tp) assert.equal(v.length, 1, 'exactly one traceparent upstream');
    assert.equal(tp[0][0], VALID, 'passed through unchanged');
    assert.deepEqual(ts[0], ['congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'], 'tracestate joined and kept');
    for (const i of [1, 2, 3, 4, 5]) {
      assert.match(tp[i][0], /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, `request ${i} starts a trace`);
      assert.notEqual(tp[i][0], VALID);
      assert.deepEqual(ts[i], [], `request ${i}: no tracestate without a valid traceparent`);
    }
    assert.notEqual(tp[1][0].slice(3, 35), tp[2][0].slice(3, 35), 'each request gets its own trace id');
  },
);

// ---- access log -----------------------------------------------------------------------------------------

test('access log: one JSON line per request with the fields, written to the file', T, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'logs', 'access.log');
  const up = await startUpstream(t, 'a', (req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end('hello');
  });
  const routes = table(1, service('web', [upstream('web-1-abc', up.port)], { host: 'web.test' }));
  const { gw, port } = await startGateway(t, routes, { accessLog: { enabled: true, sample: 1, file } });
  const host = 'web.test';
  await request(port, '/a?x=1', { host, headers: { 'x-request-id': 'rid-1', traceparent: VALID } });
  await request(port, '/missing', { host, method: 'POST', body: 'xyz' });
  assert.equal((await request(port, '/', { host: 'nowhere.test' })).status, 404);
  await gw.shutdown(500);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 3);
  const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const a = recs[0];
  assert.deepEqual(Object.keys(a), [
    'time',
    'service',
    'revision',
    'instance',
    'method',
    'path',
    'status',
    'duration_ms',
    'bytes',
    'request_id',
    'traceparent',
  ]);
  assert.ok(!Number.isNaN(Date.parse(a.time as string)));
  assert.equal(a.service, 'web');
  assert.equal(a.revision, 1);
  assert.equal(a.instance, 'web-1-abc');
  assert.equal(a.method, 'GET');
  assert.equal(a.path, '/a?x=1');
  assert.equal(a.status, 200);
  assert.equal(a.bytes, 5);
  assert.equal(a.request_id, 'rid-1');
  assert.equal(a.traceparent, VALID);
  assert.ok(typeof a.duration_ms === 'number' && a.duration_ms >= 0);
  assert.equal(recs[1].method, 'POST');
  assert.equal(recs[1].status, 404);
  assert.match(
    recs[1].traceparent as string,
    /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/,
    'the trace the gateway started',
  );
  assert.equal(typeof recs[1].request_id, 'string');
  assert.equal(recs[2].service, null, 'no route: logged without a service');
  assert.equal(recs[2].status, 404);
});

test('access log: sampling keeps about the configured share; off by default', T, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  const up = await startUpstream(t, 'a');
  const { gw, port } = await startGateway(t, table(1, service('web', [upstream('a1', up.port)])), {
    accessLog: { enabled: true, sample: 0.25, file },
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const N = 800;
  for (let i = 0; i < N; i += 40)
    await Promise.all(Array.from({ length: 40 }, () => request(port, '/', { agent })));
  await gw.shutdown(500);
  const n = readFileSync(file, 'utf8').trim().split('\n').length;
  // Binomial(800, 0.25): mean 200, sd ~12; 150..250 is > 4 sd either way.
  assert.ok(n > 150 && n < 250, `sampled ${n} of ${N}`);
  const off = await startGateway(t, table(1, service('web', [upstream('a1', up.port)])));
  assert.equal(off.gw.accessLog, null);
});
