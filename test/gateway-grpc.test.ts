/**
 * gRPC through the real gateway (master + workers) to a real @grpc/grpc-js instance over h2c: unary and
 * server-streaming calls from a grpc-js client over h2c (plain port) and TLS, statuses, messages and
 * trailing metadata intact, failure codes counted for the revision, backpressure, and a drained
 * instance's stream ended with UNAVAILABLE.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { REPLAY_MAX_BYTES } from '../src/gateway/body.ts';
import type { RouteService, StatsReport } from '../src/gateway/protocol.ts';
import { makeCa, makeLeaf } from './helpers/certs.ts';
import { service, startGateway, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';
import { echoClient, readCount, say, startGrpcInstance } from './helpers/grpc.ts';
import { waitFor } from './helpers/wait.ts';

const HOST = 'grpc.example.test';

async function grpcGateway(t: TestContext, opts: Partial<RouteService> = {}) {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const leaf = makeLeaf(ca, [HOST]);
  const inst = await startGrpcInstance(t, 'echo-1');
  const settings = settingsIn(dir, {
    http2: { maxConcurrentStreams: 128, cleartext: true },
    tls: {
      listen: { host: '127.0.0.1', port: 0 },
      certificates: [{ hosts: [HOST], cert: leaf.certFile, key: leaf.keyFile }],
      redirectHttp: false,
      handshakeTimeoutMs: 2000,
      certDir: `${dir}/certs`,
    },
  });
  const gw = await spawnGateway(t, settings);
  const svc = service('echo', [upstream('echo-1', inst.port)], { protocol: 'grpc', ...opts });
  const put = await admin(gw.admin, 'PUT', '/routes', table(1, svc));
  assert.equal(put.status, 200, JSON.stringify(put.json));
  return { gw, ca, inst, svc };
}

async function stats(socket: string): Promise<StatsReport> {
  return (await admin(socket, 'GET', '/stats')).json as unknown as StatsReport;
}

test('unary gRPC calls pass through over h2c and TLS with reply and trailing metadata', async (t) => {
  const { gw, ca } = await grpcGateway(t);
  for (const client of [
    echoClient(t, gw.port),
    echoClient(t, gw.tlsPort, { caPem: ca.certPem, host: HOST }),
  ]) {
    const r = await say(client, { text: 'hello' });
    assert.equal(r.code, 0, r.details);
    assert.deepEqual(r.reply, { text: 'hello', instance: 'echo-1' });
    assert.equal(r.trailers['x-echo-instance'], 'echo-1');
  }
});

test('gRPC error statuses, messages and trailing metadata arrive intact (trailers-only responses)', async (t) => {
  const { gw, ca } = await grpcGateway(t);
  const clients = [echoClient(t, gw.port), echoClient(t, gw.tlsPort, { caPem: ca.certPem, host: HOST })];
  for (const client of clients) {
    for (const [status, message] of [
      [5, 'no such thing'],
      [3, 'bad: argument, with "quotes" and 100%'],
      [14, 'try again later'],
    ] as const) {
      const r = await say(client, { text: 'x', status, message });
      assert.equal(r.code, status);
      assert.equal(r.details, message);
      assert.equal(r.trailers['x-echo-instance'], 'echo-1');
    }
  }
});

test('a grpc-status among the failure codes counts as a failed call of the revision', async (t) => {
  const { gw } = await grpcGateway(t, { grpcFailureCodes: [13, 14] });
  const client = echoClient(t, gw.port);
  assert.equal((await say(client, { text: 'ok' })).code, 0);
  assert.equal((await say(client, { text: 'x', status: 5 })).code, 5);
  assert.equal((await say(client, { text: 'x', status: 14 })).code, 14);
  assert.equal((await say(client, { text: 'x', status: 13 })).code, 13);
  let grpcStats: NonNullable<StatsReport['services'][string]['revisions'][string]['grpc']> | undefined;
  await waitFor(
    async () => {
      grpcStats = (await stats(gw.admin)).services.echo?.revisions['1']?.grpc;
      return grpcStats?.calls === 4;
    },
    10_000,
    'four gRPC calls counted',
  );
  assert.deepEqual(grpcStats, {
    calls: 4,
    failures: 2,
    byCode: { '0': 1, '5': 1, '13': 1, '14': 1 },
    drained: 0,
  });
});

test('a server stream arrives complete and in order while the client reads slowly (backpressure)', async (t) => {
  const { gw, ca } = await grpcGateway(t);
  const clients = [echoClient(t, gw.port), echoClient(t, gw.tlsPort, { caPem: ca.certPem, host: HOST })];
  for (const client of clients) {
    const count = 200;
    // 200 x 16 KiB is far beyond the HTTP/2 windows: the instance waits for the client to read.
    const call = client.Count({ count, intervalMs: 0, payloadBytes: 16 * 1024 });
    let paused = false;
    let resumed = (): void => {};
    const out = readCount(call, (r, c) => {
      if (r.n === 10 && !paused) {
        paused = true;
        c.pause();
        resumed = () => c.resume();
      }
    });
    await waitFor(() => paused, 10_000, 'ten messages read');
    // While the client reads nothing, the instance must stop writing (flow control through the gateway).
    let last = -1;
    await waitFor(
      async () => {
        const now = Number((await say(client, { text: '__progress' })).reply?.text);
        const stalled = now === last;
        last = now;
        return stalled;
      },
      10_000,
      'the instance held back by flow control',
    );
    assert.ok(last < count, `instance wrote ${last} of ${count} messages while the client read none`);
    resumed();
    const done = await out;
    assert.equal(done.code, 0, done.details);
    assert.equal(done.replies.length, count);
    assert.deepEqual(
      done.replies.map((r) => r.n),
      Array.from({ length: count }, (_, i) => i + 1),
    );
    assert.ok(done.replies.every((r) => r.payload.length === 16 * 1024));
    assert.equal(done.trailers['x-echo-count'], String(count));
  }
});

test('a drained instance ends its open gRPC streams with UNAVAILABLE after drainTimeout, not a reset', async (t) => {
  const { gw, svc } = await grpcGateway(t, { drainTimeoutMs: 300 });
  const client = echoClient(t, gw.port);
  const call = client.Count({ count: 0, intervalMs: 20, payloadBytes: 10 });
  let first = false;
  const outcome = readCount(call, () => {
    first = true;
  });
  await waitFor(() => first, 10_000, 'first streamed message');
  const put = await admin(gw.admin, 'PUT', '/routes', table(2, { ...svc, upstreams: [] }));
  assert.equal(put.status, 200);
  const out = await outcome;
  assert.equal(out.code, 14);
  assert.match(out.details, /instance draining/);
  assert.ok(out.replies.length > 0);
  await waitFor(
    async () => (await stats(gw.admin)).services.echo?.revisions['1']?.grpc?.drained === 1,
    10_000,
    'the drained call counted',
  );
  const inflight = (await admin(gw.admin, 'GET', '/inflight')).json as { instances: Record<string, number> };
  assert.equal(inflight.instances['echo-1'] ?? 0, 0);
});

test('an h2c instance gets TE: trailers and its trailers reach an HTTP/1.1 client in a chunked response', async (t) => {
  const seenTe: Array<string | undefined> = [];
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    seenTe.push(headers.te as string | undefined);
    stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc123' }));
    stream.end('body');
  });
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  t.after(() => h2.close());
  const port = (h2.address() as AddressInfo).port;
  const { port: gwPort } = await startGateway(
    t,
    table(1, service('h2', [upstream('h2-1', port)], { protocol: 'h2c' })),
  );
  const res = await new Promise<{ body: string; trailers: NodeJS.Dict<string>; chunked: boolean }>(
    (resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: gwPort, path: '/x', headers: { te: 'trailers' }, agent: false },
        (r) => {
          let body = '';
          r.on('data', (d) => {
            body += d;
          });
          r.on('end', () =>
            resolve({ body, trailers: r.trailers, chunked: r.headers['transfer-encoding'] === 'chunked' }),
          );
        },
      );
      req.on('error', reject);
    },
  );
  assert.equal(res.body, 'body');
  assert.equal(res.chunked, true);
  assert.equal(res.trailers['x-checksum'], 'abc123');
  assert.deepEqual(seenTe, ['trailers']);
});

test('a stream the h2c instance refuses (REFUSED_STREAM: never processed) is retried, its body replayed', async (t) => {
  // Given an instance that refuses every other stream before reading it, as one going away does
  const bodies: string[] = [];
  let streams = 0;
  const h2 = http2.createServer();
  h2.on('stream', (stream) => {
    streams++;
    if (streams % 2 === 1) {
      // Closing with an error code also reports it on this side's stream.
      stream.on('error', () => {});
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      body += d;
    });
    stream.on('end', () => {
      bodies.push(body);
      stream.respond({ ':status': 200 });
      stream.end(`got ${body.length}`);
    });
  });
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  t.after(() => h2.close());
  const port = (h2.address() as AddressInfo).port;
  const { port: gwPort } = await startGateway(
    t,
    table(1, service('h2', [upstream('h2-1', port)], { protocol: 'h2c' })),
  );
  const post = (body: string, chunked: boolean): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = chunked ? {} : { 'content-length': Buffer.byteLength(body) };
      const req = http.request(
        { host: '127.0.0.1', port: gwPort, path: '/p', method: 'POST', headers, agent: false },
        (r) => {
          let text = '';
          r.on('data', (d) => {
            text += d;
          });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      if (chunked) req.write(body.slice(0, 3));
      req.end(chunked ? body.slice(3) : body);
    });
  // When a POST with a streamed body, one with a declared body, and a GET each meet a refusal first,
  const chunked = await post('hello world', true);
  const declared = await post('declared body', false);
  const get = await new Promise<number>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: gwPort, path: '/g', agent: false }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      })
      .on('error', reject);
  });
  // Then each is answered by the retry, and the instance read each whole body once.
  assert.deepEqual(
    [chunked, declared],
    [
      { status: 200, body: 'got 11' },
      { status: 200, body: 'got 13' },
    ],
  );
  assert.equal(get, 200);
  assert.deepEqual(bodies, ['hello world', 'declared body', '']);
  assert.equal(streams, 6);
  // And a body larger than what is kept for a replay is not sent again: 502, one stream.
  const big = await post('x'.repeat(REPLAY_MAX_BYTES + 1), true);
  assert.equal(big.status, 502);
  assert.equal(streams, 7);
});
