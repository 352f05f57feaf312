/**
 * Seeded fuzzing of the real gateway (master + 2 worker processes) with mutated valid requests over raw
 * sockets. The gateway never crashes (same worker pids before and after), every reply is well-formed HTTP or
 * a clean close, and the recording upstream only ever receives well-formed requests.
 * CUTOVER_FUZZ_SEED / CUTOVER_FUZZ_N reproduce or extend a run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { service, table, upstream } from './helpers/gateway-helpers.ts';
import { parseResponses, rawSend, recordingUpstream } from './helpers/gateway-hostile.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';
import { prng } from './helpers/prng.ts';

const SEED = Number(process.env.CUTOVER_FUZZ_SEED ?? 0x5eed);
const N = Number(process.env.CUTOVER_FUZZ_N ?? 2000);
const CONCURRENCY = 32;

const BASE = [
  'GET /a?q=1 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nAccept: */*\r\nX-Forwarded-For: 9.9.9.9\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nContent-Length: 11\r\n\r\nhello world',
  'POST /c HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  'GET /k HTTP/1.1\r\nHost: app.test\r\n\r\nGET /k2 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n',
];
const NASTY_LINES = [
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Content-Length: 5',
  'Content-Length: 0',
  'Content-Length: -1',
  'Host: other.test',
  ' folded: yes',
  'Connection: X-Forwarded-For, Host',
  'Upgrade: websocket',
  'Expect: 100-continue',
  'X-Forwarded-For: 1.2.3.4',
  `X-Long: ${'L'.repeat(3000)}`,
];
const NASTY_BYTES = [0, 9, 10, 13, 32, 44, 58, 59, 0x7f, 0x80, 0xff, 0x30, 0x41, 0x2d];

function mutate(rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  let buf = Buffer.from(pick(BASE), 'latin1');
  const rounds = 1 + Math.floor(rand() * 3);
  for (let r = 0; r < rounds; r++) {
    const pos = Math.floor(rand() * buf.length);
    switch (Math.floor(rand() * 7)) {
      case 0: {
        // overwrite 1-4 bytes
        buf = Buffer.from(buf);
        const n = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < n && pos + i < buf.length; i++) {
          buf[pos + i] = rand() < 0.5 ? pick(NASTY_BYTES) : Math.floor(rand() * 256);
        }
        break;
      }
      case 1: // insert random bytes
        buf = Buffer.concat([
          buf.subarray(0, pos),
          Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pick(NASTY_BYTES))),
          buf.subarray(pos),
        ]);
        break;
      case 2: // delete a range
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1 + Math.floor(rand() * 8))]);
        break;
      case 3: // truncate
        buf = buf.subarray(0, pos);
        break;
      case 4: {
        // duplicate a line
        const lines = buf.toString('latin1').split('\r\n');
        const i = Math.floor(rand() * lines.length);
        lines.splice(i, 0, lines[i]);
        buf = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 5: {
        // insert a nasty header line after the request line
        const text = buf.toString('latin1');
        const eol = text.indexOf('\r\n');
        if (eol !== -1) {
          buf = Buffer.from(
            `${text.slice(0, eol + 2)}${pick(NASTY_LINES)}\r\n${text.slice(eol + 2)}`,
            'latin1',
          );
        }
        break;
      }
      default: {
        // CRLF -> LF somewhere
        const text = buf.toString('latin1');
        const at = text.indexOf('\r\n', pos);
        if (at !== -1) buf = Buffer.from(text.slice(0, at) + text.slice(at + 1), 'latin1');
      }
    }
  }
  return buf;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);

test(`fuzz: ${N} mutated requests (seed ${SEED}) never crash the gateway or reach the upstream malformed`, {
  timeout: 180_000,
}, async (t) => {
  const up = await recordingUpstream(t);
  const dir = tempDir(t);
  const gw = await spawnGateway(
    t,
    settingsIn(dir, {
      workers: 2,
      requestHeadTimeoutMs: 500,
      clientIdleTimeoutMs: 300,
      upstreamTimeoutMs: 1000,
    }),
  );
  assert.equal(
    (await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('w', up.port)])))).status,
    200,
  );
  const before = (await admin(gw.admin, 'GET', '/healthz')).json;
  assert.equal((before.workerPids as number[]).length, 2);

  const rand = prng(SEED);
  const cases = Array.from({ length: N }, () => ({ bytes: mutate(rand), halfClose: rand() < 0.3 }));
  const bad: string[] = [];
  let next = 0;
  let answered = 0;
  const statuses = new Map<number, number>();
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i];
      const r = await rawSend(gw.port, [c.bytes], { waitMs: 1500, halfClose: c.halfClose });
      const parsed = parseResponses(r.text);
      if (parsed === null) {
        bad.push(
          `#${i} ${JSON.stringify(c.bytes.toString('latin1'))} -> ${JSON.stringify(r.text.slice(0, 200))}`,
        );
      } else {
        if (parsed.length > 0) answered++;
        for (const s of parsed) statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} malformed replies`);

  // The upstream's strict parser never failed, and what it got is well-formed and rewritten by the gateway.
  assert.deepEqual(up.parseErrors, []);
  for (const s of up.seen) {
    const where = `${s.method} ${s.url} ${JSON.stringify(s.rawHeaders)}`;
    assert.ok(METHODS.has(s.method), where);
    assert.ok(s.url.startsWith('/') && !s.url.includes('#'), where);
    assert.equal(s.httpVersion, '1.1', where);
    const names = s.rawHeaders.filter((_, k) => k % 2 === 0).map((n) => n.toLowerCase());
    assert.equal(names.filter((n) => n === 'host').length, 1, where);
    assert.equal(names.filter((n) => n === 'content-length').length <= 1, true, where);
    assert.ok(!(names.includes('content-length') && names.includes('transfer-encoding')), where);
    assert.equal(s.headers['x-forwarded-for'], '127.0.0.1', where);
    assert.ok(!names.includes('expect') && !names.includes('proxy-connection'), where);
  }
  assert.ok(
    up.seen.length > N / 10,
    `upstream got ${up.seen.length} requests: the fuzz must exercise the proxy path`,
  );
  assert.ok(answered > N / 2, `${answered} of ${N} got a response`);

  const after = (await admin(gw.admin, 'GET', '/healthz')).json;
  assert.deepEqual(after.workerPids, before.workerPids, 'no worker crashed or restarted');
  assert.equal(gw.child.exitCode, null);
  t.diagnostic(`statuses ${JSON.stringify(Object.fromEntries(statuses))}, upstream saw ${up.seen.length}`);
});
