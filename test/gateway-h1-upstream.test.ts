/**
 * The HTTP/1.1 upstream client (src/gateway/h1-upstream.ts) against raw `net` servers that write exact
 * bytes: framing, keep-alive reuse, interim responses, malformed responses and timeouts, each as the
 * exchange would see it through the dispatch-handler callbacks.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import type { UpstreamHandler, UpstreamRequest } from '../src/gateway/dispatcher.ts';
import { idleMsFor } from '../src/gateway/h1-connection.ts';
import { requestHead } from '../src/gateway/h1-head.ts';
import { H1Upstream, MAX_CONNECTING } from '../src/gateway/h1-upstream.ts';

const SETTINGS = { connectTimeoutMs: 2000, upstreamTimeoutMs: 5000, upstreamIdleTimeoutMs: 4000 };

/** What one request saw, in order. */
class Recorder implements UpstreamHandler {
  events: string[] = [];
  status = 0;
  headers: string[] = [];
  body = '';
  trailers: string[] | null = null;
  error: Error | null = null;
  abort: ((err?: Error) => void) | null = null;
  readonly settled: Promise<void>;
  #resolve!: () => void;

  constructor() {
    this.settled = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }
  reused: boolean | null = null;
  onConnect(abort: (err?: Error) => void, reused: boolean): void {
    this.events.push('connect');
    this.reused = reused;
    this.abort = abort;
  }
  onHeaders(status: number, headers: string[]): boolean {
    this.events.push(`headers ${status}`);
    this.status = status;
    this.headers = headers;
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.body += chunk.toString('latin1');
    return true;
  }
  onComplete(trailers: string[] | null): void {
    this.events.push('complete');
    this.trailers = trailers;
    this.#resolve();
  }
  onError(err: Error): void {
    this.events.push(`error ${(err as NodeJS.ErrnoException).code}`);
    this.error = err;
    this.#resolve();
  }
}

/** Each request's head, and its body once complete (by Content-Length or chunked framing). */
type Answer = (socket: net.Socket, head: string, index: number, body: Promise<string>) => void;

interface RawServer {
  port: number;
  connections: number;
  heads: string[];
  close(): Promise<void>;
}

/** A raw server that reads request heads and bodies and lets `answer` write whatever bytes it likes. */
async function rawServer(answer: Answer): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state: RawServer = {
    port: 0,
    connections: 0,
    heads: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    state.connections++;
    let buf = '';
    /** The body being read: its length, -1 for chunked; null between requests. */
    let want: number | null = null;
    let done: ((body: string) => void) | null = null;
    const step = (): void => {
      for (;;) {
        if (want === null) {
          const end = buf.indexOf('\r\n\r\n');
          if (end === -1) return;
          const head = buf.slice(0, end + 4);
          buf = buf.slice(end + 4);
          const index = state.heads.push(head) - 1;
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          want = /\r\ntransfer-encoding: *chunked/i.test(head) ? -1 : length === null ? 0 : Number(length[1]);
          const body = new Promise<string>((resolve) => {
            done = resolve;
          });
          answer(socket, head, index, body);
        }
        if (want === -1) {
          const end = buf.indexOf('0\r\n\r\n');
          if (end === -1) return;
          done!(buf.slice(0, end + 5));
          buf = buf.slice(end + 5);
        } else {
          if (buf.length < want) return;
          done!(buf.slice(0, want));
          buf = buf.slice(want);
        }
        want = null;
      }
    };
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      step();
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

function get(path = '/', headers: string[] = []): UpstreamRequest {
  return { method: 'GET', path, headers, body: null };
}

async function send(pool: H1Upstream, opts: UpstreamRequest): Promise<Recorder> {
  const r = new Recorder();
  pool.dispatch(opts, r);
  await r.settled;
  return r;
}

/** An instance on 127.0.0.1. */
function local(port: number) {
  return { address: `127.0.0.1:${port}`, host: '127.0.0.1', port };
}

const pools: H1Upstream[] = [];
function poolFor(server: RawServer, settings = SETTINGS): H1Upstream {
  const pool = new H1Upstream(local(server.port), settings);
  pools.push(pool);
  return pool;
}
after(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
});

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

test('sequential requests reuse one keep-alive connection (reported to onConnect); a request without Host gets the instance address', async () => {
  const server = await rawServer((s) => s.write(OK));
  const pool = poolFor(server);
  for (let i = 0; i < 3; i++) {
    const r = await send(pool, get(`/n${i}`));
    assert.deepEqual(r.events, ['connect', 'headers 200', 'complete']);
    assert.equal(r.body, 'ok');
    // The first request went on a new connection; the others on the reused one.
    assert.equal(r.reused, i > 0);
  }
  assert.equal(server.connections, 1);
  assert.equal(server.heads.length, 3);
  assert.equal(server.heads[0], `GET /n0 HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\n\r\n`);
  const withHost = await send(pool, get('/h', ['Host', 'app.example', 'X-A', '1']));
  assert.equal(withHost.status, 200);
  assert.equal(server.heads[3], 'GET /h HTTP/1.1\r\nHost: app.example\r\nX-A: 1\r\n\r\n');
  await server.close();
});

test('a response without a length is read until the instance closes, and its connection is not reused', async () => {
  const server = await rawServer((s) => {
    s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
  });
  const pool = poolFor(server);
  const first = await send(pool, get());
  assert.deepEqual(first.events, ['connect', 'headers 200', 'complete']);
  assert.equal(first.body, 'until the end');
  const second = await send(pool, get());
  assert.equal(second.body, 'until the end');
  assert.equal(server.connections, 2);
  await server.close();
});

test('a chunked response delivers its body and its trailers', async () => {
  const server = await rawServer((s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Grpc-Status\r\n\r\n');
    s.write('3\r\nabc\r\n');
    s.write('4\r\ndefg\r\n0\r\nGrpc-Status: 0\r\nX-End: yes\r\n\r\n');
  });
  const pool = poolFor(server);
  const r = await send(pool, get());
  assert.deepEqual(r.events, ['connect', 'headers 200', 'complete']);
  assert.equal(r.body, 'abcdefg');
  assert.deepEqual(r.trailers, ['Grpc-Status', '0', 'X-End', 'yes']);
  assert.deepEqual(r.headers, ['Transfer-Encoding', 'chunked', 'Trailer', 'Grpc-Status']);
  await server.close();
});

test('HEAD: a Content-Length response has no body, and the connection is reused', async () => {
  const server = await rawServer((s, head) => {
    s.write(head.startsWith('HEAD') ? 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' : OK);
  });
  const pool = poolFor(server);
  const head = await send(pool, { method: 'HEAD', path: '/', headers: [], body: null });
  assert.deepEqual(head.events, ['connect', 'headers 200', 'complete']);
  assert.equal(head.body, '');
  assert.deepEqual(head.headers, ['Content-Length', '100']);
  const next = await send(pool, get());
  assert.equal(next.body, 'ok');
  assert.equal(server.connections, 1);
  await server.close();
});

test('interim 1xx responses are skipped: the handler sees the final head once', async () => {
  const server = await rawServer((s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
    s.write(OK);
  });
  const pool = poolFor(server);
  const r = await send(pool, get());
  assert.deepEqual(r.events, ['connect', 'headers 200', 'complete']);
  assert.deepEqual(r.headers, ['Content-Length', '2']);
  assert.equal(r.body, 'ok');
  await server.close();
});

test('malformed responses fail with the parser code and close the connection (strict: no lenient flags)', async () => {
  const bad = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['HTTP/1.1 200 OK\r\nX-Bad: a\nb\r\n\r\n', 'HPE_CR_EXPECTED'],
    [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      'HPE_INVALID_CONTENT_LENGTH',
    ],
    ['HTTP/1.1 2x0 OK\r\n\r\n', 'HPE_INVALID_STATUS'],
  ];
  for (const [bytes, code] of bad) {
    const server = await rawServer((s) => s.write(bytes));
    const pool = poolFor(server);
    const r = await send(pool, get());
    assert.deepEqual(r.events, ['connect', `error ${code}`], bytes);
    await pool.close();
    assert.equal(pool.connections, 0);
    await server.close();
  }
});

test('bytes from an instance while the connection is idle close it; the next request opens a new one', async () => {
  const server = await rawServer((s, _head, index) => {
    s.write(index === 0 ? `${OK}HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra` : OK);
  });
  const pool = poolFor(server);
  const first = await send(pool, get());
  assert.equal(first.body, 'ok');
  const second = await send(pool, get());
  assert.deepEqual(second.events, ['connect', 'headers 200', 'complete']);
  assert.equal(second.body, 'ok');
  assert.equal(server.connections, 2);
  await server.close();
});

test('Connection: close and HTTP/1.0 responses are not reused', async () => {
  const server = await rawServer((s, _head, index) => {
    s.write(
      index % 2 === 0
        ? 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'
        : 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
    );
  });
  const pool = poolFor(server);
  for (let i = 0; i < 4; i++) assert.equal((await send(pool, get())).body, 'ok');
  assert.equal(server.connections, 4);
  await server.close();
});

test('request bodies: a stream without a length goes chunked, a Buffer gets its Content-Length, POST without a body says 0', async () => {
  const bodies: string[] = [];
  const server = await rawServer((s, _head, index, body) => {
    // Answer once the whole body arrived, so its framing is complete.
    void body.then((b) => {
      bodies[index] = b;
      s.write(OK);
    });
  });
  const pool = poolFor(server);
  const chunks = Readable.from([Buffer.from('hello '), Buffer.from('world')]);
  const chunked = await send(pool, { method: 'POST', path: '/c', headers: [], body: chunks });
  assert.equal(chunked.status, 200);
  assert.match(
    server.heads[0],
    /^POST \/c HTTP\/1\.1\r\nhost: [^\r]+\r\ntransfer-encoding: chunked\r\n\r\n$/,
  );
  assert.equal(bodies[0], '6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n');
  const buffered = await send(pool, { method: 'PUT', path: '/b', headers: [], body: Buffer.from('abc') });
  assert.equal(buffered.status, 200);
  assert.match(server.heads[1], /\r\ncontent-length: 3\r\n\r\n$/);
  assert.equal(bodies[1], 'abc');
  const streamed = Readable.from([Buffer.from('12'), Buffer.from('345')]);
  const declared = await send(pool, {
    method: 'POST',
    path: '/d',
    headers: ['Content-Length', '5'],
    body: streamed,
  });
  assert.equal(declared.status, 200);
  assert.equal(bodies[2], '12345');
  const empty = await send(pool, { method: 'POST', path: '/e', headers: [], body: null });
  assert.equal(empty.status, 200);
  assert.match(server.heads[3], /\r\ncontent-length: 0\r\n\r\n$/);
  assert.equal(server.connections, 1);
  await server.close();
});

test('an instance that answers before reading the body: the response is delivered and the connection dropped', async () => {
  const server = await rawServer((s) => {
    s.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig');
  });
  const pool = poolFor(server);
  // A body that never ends: the request is still being written when the response completes.
  const body = new Readable({ read() {} });
  body.push(Buffer.from('partial'));
  const r = await send(pool, { method: 'POST', path: '/', headers: ['content-length', '100'], body });
  assert.deepEqual(r.events, ['connect', 'headers 413', 'complete']);
  assert.equal(r.body, 'big');
  assert.equal(body.isPaused(), true, 'the client body is paused, not destroyed');
  assert.equal(body.destroyed, false);
  const next = await send(pool, get());
  assert.equal(next.status, 413);
  assert.equal(server.connections, 2);
  await server.close();
});

test('no response head within the headers timeout: UND_ERR_HEADERS_TIMEOUT, and the connection is closed', async () => {
  const server = await rawServer(() => {});
  const pool = poolFor(server);
  const r = await send(pool, { ...get(), headersTimeout: 50 });
  assert.deepEqual(r.events, ['connect', 'error UND_ERR_HEADERS_TIMEOUT']);
  await pool.close();
  assert.equal(pool.connections, 0);
  await server.close();
});

test('backpressure: a handler that says stop is sent no more until it resumes, then gets every byte', async () => {
  const TOTAL = 16 * 1024 * 1024;
  const CHUNK = Buffer.alloc(64 * 1024, 120);
  let serverSocket: net.Socket | null = null;
  const server = await rawServer((s) => {
    serverSocket = s;
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
    let sent = 0;
    const pump = (): void => {
      while (sent < TOTAL) {
        sent += CHUNK.length;
        if (!s.write(CHUNK)) {
          s.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  const pool = poolFor(server);
  let received = 0;
  let resume: (() => void) | null = null;
  let paused = true;
  let completed = false;
  let done!: () => void;
  const complete = new Promise<void>((resolve) => {
    done = () => {
      completed = true;
      resolve();
    };
  });
  pool.dispatch(get(), {
    onConnect() {},
    onHeaders(_status, _headers, r) {
      resume = r;
      return true;
    },
    onData(chunk) {
      received += chunk.length;
      // Stop after the first chunk, as a client that is slower than the instance does.
      return !paused;
    },
    onComplete: () => done(),
    onError: (err) => assert.fail(err),
  });
  // Given the instance can write no more because its reader stopped
  const handed = (): number => {
    const sock = serverSocket as net.Socket | null;
    return sock === null ? 0 : sock.bytesWritten - sock.writableLength;
  };
  // (a megabyte more than the handler got sits in the kernel's buffers; the first read already happened),
  const blocked = (): boolean =>
    received > 0 &&
    handed() - received >= 1024 * 1024 &&
    (serverSocket as net.Socket | null)?.writableNeedDrain === true;
  while (!blocked() && !completed) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // and the loop then turns 200 times (each turn polls the socket: a reader that had not stopped would
  // take the whole 16 MiB in fewer than 20),
  for (let turn = 0; turn < 200 && !completed; turn++)
    await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(completed, false, 'the whole body was delivered although the handler had said stop');
  // Then the handler got at most what one read held after it said stop,
  assert.ok(received > 0 && received <= 2 * CHUNK.length, `${received} bytes delivered while paused`);
  // and after resume() the rest arrives, every byte.
  paused = false;
  (resume as unknown as () => void)();
  await complete;
  assert.equal(received, TOTAL);
  await server.close();
});

test('bodyTimeout: a response body that stalls after its head fails with UND_ERR_BODY_TIMEOUT', async () => {
  const server = await rawServer((s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
  });
  const pool = poolFor(server);
  const r = await send(pool, { ...get(), bodyTimeout: 50 });
  assert.deepEqual(r.events, ['connect', 'headers 200', 'error UND_ERR_BODY_TIMEOUT']);
  assert.equal(r.body, 'abc');
  await server.close();
});

/** A pool for a port nothing listens on (it was free a moment ago): every connect is refused. */
async function refusingPool(): Promise<H1Upstream> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  probe.close();
  await once(probe, 'close');
  const pool = new H1Upstream(local(port), SETTINGS);
  pools.push(pool);
  return pool;
}

test('a refused connection fails before onConnect (the request never left: any method may be retried)', async () => {
  const pool = await refusingPool();
  const r = await send(pool, get());
  assert.deepEqual(r.events, ['error ECONNREFUSED']);
});

test('the instance closing a connection mid-response is UND_ERR_SOCKET after the head', async () => {
  const server = await rawServer((s) => {
    s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
  });
  const pool = poolFor(server);
  const r = await send(pool, get());
  assert.deepEqual(r.events, ['connect', 'headers 200', 'error UND_ERR_SOCKET']);
  assert.equal(r.body, 'abc');
  await server.close();
});

test('abort from the handler ends the request and its connection; a stale abort touches nothing', async () => {
  const server = await rawServer((s, _head, index) => {
    if (index > 0) s.write(OK);
  });
  const pool = poolFor(server);
  const hung = new Recorder();
  pool.dispatch(get(), hung);
  while (hung.abort === null) await new Promise<void>((resolve) => setImmediate(resolve));
  hung.abort(Object.assign(new Error('client gone'), { code: 'CUTOVER_CLIENT_GONE' }));
  await hung.settled;
  assert.deepEqual(hung.events, ['connect', 'error CUTOVER_CLIENT_GONE']);
  const ok = await send(pool, get());
  assert.equal(ok.body, 'ok');
  // The finished request's abort, called late (the exchange does on a client close), is a no-op.
  ok.abort!(new Error('late'));
  const again = await send(pool, get());
  assert.equal(again.body, 'ok');
  assert.equal(server.connections, 2);
  await server.close();
});

/** A client gone before its connection was ready: it withdraws in onConnect, as the exchange does. */
class Withdrawing extends Recorder {
  override onConnect(abort: (err?: Error) => void, reused: boolean): void {
    super.onConnect(abort, reused);
    abort(Object.assign(new Error('client gone'), { code: 'CUTOVER_CLIENT_GONE' }));
  }
}

test('a burst opens at most MAX_CONNECTING connections at once; the rest wait in order and are all served', async () => {
  const server = await rawServer((s) => s.write(OK));
  const pool = poolFor(server);
  const burst = MAX_CONNECTING * 3 + 5;
  const rs: Recorder[] = [];
  for (let i = 0; i < burst; i++) {
    const r = new Recorder();
    rs.push(r);
    pool.dispatch(get(`/b${i}`), r);
  }
  // Nothing can have connected yet (connects complete on a later turn of the event loop).
  assert.equal(pool.connections, MAX_CONNECTING);
  assert.equal(pool.waiting, burst - MAX_CONNECTING);
  await Promise.all(rs.map((r) => r.settled));
  assert.deepEqual(
    rs.filter((r) => r.body !== 'ok').map((r) => r.events),
    [],
  );
  assert.equal(pool.waiting, 0);
  assert.equal(server.heads.length, burst);
  assert.ok(server.connections <= burst, `${server.connections} connections`);
  await server.close();
});

test('requests withdrawn before their connection was ready cost no connection of their own: a rapid reset opens at most MAX_CONNECTING', async () => {
  const server = await rawServer((s) => s.write(OK));
  const pool = poolFor(server);
  const withdrawn: Recorder[] = [];
  for (let i = 0; i < 1000; i++) {
    const r = new Withdrawing();
    withdrawn.push(r);
    pool.dispatch(get(`/reset${i}`), r);
  }
  const live = await send(pool, get('/live'));
  assert.equal(live.body, 'ok');
  await Promise.all(withdrawn.map((r) => r.settled));
  assert.deepEqual(
    [...new Set(withdrawn.map((r) => r.events.join(',')))],
    ['connect,error CUTOVER_CLIENT_GONE'],
  );
  // Only the live request reached the instance, and the connections it saw are bounded by the burst's.
  assert.deepEqual(
    server.heads.map((h) => h.split(' ')[1]),
    ['/live'],
  );
  assert.ok(server.connections <= MAX_CONNECTING, `${server.connections} connections`);
  // A withdrawn request leaves its connection clean: the next request reuses one.
  const next = await send(pool, get('/next'));
  assert.equal(next.reused, true);
  assert.ok(server.connections <= MAX_CONNECTING);
  await server.close();
});

test('a connect failure with no connection up fails the waiting requests at once, before onConnect', async () => {
  const pool = await refusingPool();
  const rs: Recorder[] = [];
  for (let i = 0; i < MAX_CONNECTING * 2; i++) {
    const r = new Recorder();
    rs.push(r);
    pool.dispatch(get(), r);
  }
  assert.equal(pool.waiting, MAX_CONNECTING);
  await Promise.all(rs.map((r) => r.settled));
  assert.deepEqual([...new Set(rs.map((r) => r.events.join(',')))], ['error ECONNREFUSED']);
  assert.equal(pool.waiting, 0);
});

test('close() lets the request in flight finish; destroy() fails it with UND_ERR_DESTROYED', async () => {
  let release: (() => void) | null = null;
  const server = await rawServer((s) => {
    release = () => s.write(OK);
  });
  const pool = poolFor(server);
  const r = new Recorder();
  pool.dispatch(get(), r);
  while (release === null) await new Promise<void>((resolve) => setImmediate(resolve));
  const closed = pool.close();
  const refused = await send(pool, get());
  assert.deepEqual(refused.events, ['error UND_ERR_CLOSED']);
  (release as () => void)();
  await r.settled;
  assert.equal(r.body, 'ok');
  await closed;
  assert.equal(pool.connections, 0);

  const pool2 = poolFor(server);
  release = null;
  const r2 = new Recorder();
  pool2.dispatch(get(), r2);
  while (release === null) await new Promise<void>((resolve) => setImmediate(resolve));
  await pool2.destroy();
  await r2.settled;
  assert.deepEqual(r2.events, ['connect', 'error UND_ERR_DESTROYED']);
  await server.close();
});

test('requestHead refuses what would split the head: CR/LF/NUL in a value, a space or control in the path', () => {
  for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\0b']) {
    assert.throws(
      () => requestHead({ method: 'GET', path: '/', headers: ['x-a', value], body: null }, 'h:1'),
      (err: NodeJS.ErrnoException) => err.code === 'UND_ERR_INVALID_ARG' && /x-a/.test(err.message),
    );
  }
  for (const path of ['/a b', '/a\tb', '/a\r\n']) {
    assert.throws(
      () => requestHead({ method: 'GET', path, headers: [], body: null }, 'h:1'),
      (err: NodeJS.ErrnoException) => err.code === 'UND_ERR_INVALID_ARG',
    );
  }
  assert.equal(
    requestHead({ method: 'GET', path: '/ok?é=1', headers: ['x-a', 'v\u00e9'], body: null }, 'h:1'),
    'GET /ok?é=1 HTTP/1.1\r\nx-a: vé\r\nhost: h:1\r\n\r\n',
  );
});

test('idleMsFor: an instance Keep-Alive hint shortens the idle time (minus a second), never lengthens it', () => {
  assert.equal(idleMsFor(['Keep-Alive', 'timeout=5'], 4000), 4000);
  assert.equal(idleMsFor(['keep-alive', 'timeout=2, max=100'], 4000), 1000);
  assert.equal(idleMsFor(['Keep-Alive', 'max=100'], 4000), 4000);
  assert.equal(idleMsFor(['Content-Length', '2'], 4000), 4000);
  assert.equal(idleMsFor(['Keep-Alive', 'timeout=1'], 4000), 1);
});
