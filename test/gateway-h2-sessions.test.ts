/**
 * HTTP/2 client connections on the real gateway (master + 2 workers): per-stream refusals that leave the
 * connection usable (h2-limits.ts and node:http2's own), idle connections closed after clientIdleTimeout,
 * and a drain's GOAWAY letting a stream already in flight finish.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { admin } from './helpers/gateway-process.ts';
import { assertWorkersUnchanged, HOST, stage } from './helpers/h2-attack.ts';
import { H2_ERROR, headersFrame, RawH2, requestBlock } from './helpers/h2-frames.ts';
import { waitFor } from './helpers/wait.ts';

interface StreamReply {
  status: number;
  body: string;
  /** RST_STREAM code when the stream was reset instead of answered. */
  rst?: number;
}

function h2Session(port: number, ca: string): http2.ClientHttp2Session {
  return http2.connect(`https://${HOST}:${port}`, {
    ca,
    servername: HOST,
    lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never),
  } as http2.SecureClientSessionOptions);
}

function send(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<StreamReply> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: true });
    let status = 0;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('data', (c: string) => (body += c));
    req.on('close', () =>
      resolve(req.rstCode === H2_ERROR.NO_ERROR ? { status, body } : { status, body, rst: req.rstCode }),
    );
    req.on('error', () => {});
  });
}

test('bad HTTP/2 request heads get 400/431 on their stream, the connection serves the next one', async (t) => {
  const s = await stage(t);
  const session = h2Session(s.gw.tlsPort, s.ca.certPem);
  t.after(() => session.destroy());
  session.on('error', () => {});
  const connect = await send(session, { ':method': 'CONNECT', ':authority': `${HOST}:443` });
  assert.equal(connect.status, 400);
  assert.match(connect.body, /CONNECT is not supported/);
  for (const authority of ['evil,test', 'evil.test:99999999', 'evil.test:x']) {
    const bad = await send(session, { ':path': '/x', ':authority': authority });
    assert.equal(bad.status, 400, authority);
    assert.match(bad.body, /invalid :authority/);
  }
  // Characters no authority may hold: nghttp2 resets the stream before the gateway sees it.
  const userinfo = await send(session, { ':path': '/x', ':authority': 'user@evil.test' });
  assert.equal(userinfo.rst, H2_ERROR.PROTOCOL_ERROR);
  const fields: http2.OutgoingHttpHeaders = { ':path': '/many' };
  for (let i = 0; i < 101; i++) fields[`x-field-${i}`] = 'v';
  const many = await send(session, fields);
  assert.equal(many.status, 431);
  // Far more fields than the gateway takes: node:http2 resets the stream before it is a request.
  const huge: http2.OutgoingHttpHeaders = { ':path': '/huge' };
  for (let i = 0; i < 500; i++) huge[`x-field-${i}`] = 'v';
  const tooMany = await send(session, huge);
  t.diagnostic(`500 fields: status ${tooMany.status}, rst ${tooMany.rst}`);
  assert.ok(tooMany.status === 431 || tooMany.rst !== undefined);
  const ok = await send(session, { ':path': '/fine' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ok');
  assert.equal(s.up.requests, 1, 'only the good request reached the upstream');
  assert.equal(session.closed, false);
  await assertWorkersUnchanged(s);
});

test('an idle HTTP/2 connection gets GOAWAY and is closed after clientIdleTimeout', async (t) => {
  const s = await stage(t, { settings: { clientIdleTimeoutMs: 400 } });
  const c = await RawH2.open(s.gw.port);
  t.after(() => c.destroy());
  c.write(headersFrame(1, requestBlock(HOST, '/once')));
  await c.until((x) => x.ended().has(1), 'the answer on stream 1');
  const quiet = await RawH2.open(s.gw.port);
  t.after(() => quiet.destroy());
  // One that reads nothing either: its GOAWAY cannot be delivered, it is cut all the same.
  const deaf = await RawH2.open(s.gw.port);
  t.after(() => deaf.destroy());
  deaf.socket.pause();
  await c.untilClosed();
  await quiet.untilClosed();
  await waitFor(
    () => deaf.closed || deaf.socket.readableLength > 0,
    10_000,
    'the deaf client to be closed or answered',
  );
  deaf.socket.resume();
  await deaf.untilClosed();
  assert.equal(c.goaway?.code, H2_ERROR.NO_ERROR);
  assert.equal(c.goaway?.lastStreamId, 1);
  assert.equal(quiet.goaway?.code, H2_ERROR.NO_ERROR);
  await assertWorkersUnchanged(s);
});

test('a drain sends GOAWAY and a stream already in flight still gets its whole response', async (t) => {
  const s = await stage(t, { hold: true });
  const session = h2Session(s.gw.tlsPort, s.ca.certPem);
  t.after(() => session.destroy());
  session.on('error', () => {});
  let goaway: number | undefined;
  session.on('goaway', (code: number) => {
    goaway = code;
  });
  const slow = send(session, { ':path': '/slow/drain' });
  await waitFor(() => s.up.held.length === 1, 10_000, 'the slow request at the upstream');
  // A new worker generation takes over; the one holding our connection drains.
  const reload = await admin(s.gw.admin, 'POST', '/reload');
  assert.equal(reload.status, 200);
  await waitFor(() => goaway !== undefined, 10_000, 'GOAWAY from the draining worker');
  assert.equal(goaway, H2_ERROR.NO_ERROR);
  s.up.held[0].end('finished after GOAWAY');
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'finished after GOAWAY');
  assert.equal(reply.rst, undefined);
  // New connections are served by the new generation.
  const next = h2Session(s.gw.tlsPort, s.ca.certPem);
  t.after(() => next.destroy());
  next.on('error', () => {});
  assert.equal((await send(next, { ':path': '/after' })).status, 200);
});
