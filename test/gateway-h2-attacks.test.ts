/**
 * HTTP/2 attacks on the real gateway (master + 2 workers), written frame by frame on raw sockets: rapid
 * reset, CONTINUATION flood, SETTINGS and PING floods, an oversized header list, more streams than
 * allowed. Each attacked connection must be closed or its streams refused, nothing beyond a bound may
 * reach the upstream, and meanwhile an ordinary client keeps being served by the same workers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STREAM_RESET_BURST } from '../src/gateway/h2-server.ts';
import {
  assertServed,
  assertWorkersUnchanged,
  Bystander,
  HOST,
  rssKb,
  type Stage,
  stage,
} from './helpers/h2-attack.ts';
import {
  continuationFrame,
  DEFAULT_MAX_FRAME,
  FRAME,
  H2_ERROR,
  headersFrame,
  hpackLiterals,
  pingFrame,
  RawH2,
  requestBlock,
  rstStreamFrame,
  SETTING,
  settingsFrame,
} from './helpers/h2-frames.ts';
import { waitFor } from './helpers/wait.ts';

/** Streams the rapid-reset attacker opens and cancels at most (it stops when the connection is closed). */
const RAPID_RESET_STREAMS = 20_000;
const RAPID_RESET_BATCH = 200;

test('HTTP/2 rapid reset: the attacking connection is closed and few of its streams reach the upstream', async (t) => {
  const s = await stage(t);
  const bystander = new Bystander(s).start(t);
  const attacker = await RawH2.open(s.gw.port);
  const block = requestBlock(HOST, '/reset');
  let streamId = 1;
  let sentAtGoaway = 0;
  while (streamId < RAPID_RESET_STREAMS * 2 && !attacker.closed) {
    const batch: Buffer[] = [];
    for (let i = 0; i < RAPID_RESET_BATCH; i++, streamId += 2) {
      batch.push(headersFrame(streamId, block), rstStreamFrame(streamId));
    }
    attacker.write(Buffer.concat(batch));
    // Let the gateway's answer (GOAWAY) arrive between batches, as a real attacker's socket would see it.
    await new Promise((r) => setImmediate(r));
    if (sentAtGoaway === 0 && attacker.goaway !== undefined) sentAtGoaway = (streamId - 1) / 2;
  }
  await attacker.untilClosed();
  const goaway = attacker.goaway;
  t.diagnostic(
    `rapid reset: ${(streamId - 1) / 2} streams sent (${sentAtGoaway} when GOAWAY arrived), ` +
      `${s.up.requests} requests reached the upstream, goaway ${JSON.stringify(goaway)}, ` +
      `socket error ${attacker.error}`,
  );
  if (goaway === undefined) {
    // Our next batch met the closed connection before the GOAWAY was read (see RawH2.error): the gateway
    // still closed it, and what reached the upstream is bounded below.
    assert.ok(
      attacker.error === 'EPIPE' || attacker.error === 'ECONNRESET',
      `no GOAWAY, error ${attacker.error}`,
    );
  } else {
    assert.notEqual(goaway.code, H2_ERROR.NO_ERROR);
    // The gateway stopped taking streams after about its reset burst, whatever the attacker sent after.
    assert.ok(goaway.lastStreamId < 2 * 2 * STREAM_RESET_BURST, `last stream ${goaway.lastStreamId}`);
  }
  assertServed(await bystander.stop());
  const fromAttack = s.up.requests - bystander.result.ok;
  assert.ok(fromAttack <= STREAM_RESET_BURST, `${fromAttack} attack streams reached the upstream`);
  await assertWorkersUnchanged(s);
});

/** CONTINUATION frames the flood sends at most, each a full frame of header bytes. */
const CONTINUATION_FRAMES = 5_000;

test('CONTINUATION flood: a header block that never ends closes the connection, memory stays bounded', async (t) => {
  const s = await stage(t);
  const before = s.workerPids.map(rssKb);
  const bystander = new Bystander(s).start(t);
  const attacker = await RawH2.open(s.gw.port);
  // Our SETTINGS ACK must not land inside the header block (that alone is a protocol error).
  await attacker.until((c) => c.serverSettings !== undefined, 'the server SETTINGS');
  attacker.write(headersFrame(1, requestBlock(HOST, '/cont'), { endHeaders: false }));
  // Small new fields in each frame: the header list stays under maxHeaderSize for a long time, so only a
  // limit on the frames themselves stops it.
  let sent = 0;
  for (; sent < CONTINUATION_FRAMES && !attacker.closed && attacker.goaway === undefined; sent++) {
    const fields: [string, string][] = [];
    for (let i = 0; i < 4; i++) fields.push([`x-f${sent}-${i}`, 'v'.repeat(64)]);
    attacker.write(continuationFrame(1, hpackLiterals(fields)));
    await new Promise((r) => setTimeout(r, 1));
  }
  await attacker.untilClosed();
  const after = s.workerPids.map(rssKb);
  t.diagnostic(
    `continuation flood: ${sent} frames (${attacker.written} bytes) sent, goaway ${JSON.stringify(attacker.goaway)}, ` +
      `rss kB ${before} -> ${after}`,
  );
  assert.ok(sent < CONTINUATION_FRAMES, 'the gateway closed the connection before the flood ended');
  assert.ok(attacker.goaway !== undefined && attacker.goaway.code !== H2_ERROR.NO_ERROR);
  for (let i = 0; i < after.length; i++) {
    assert.ok(after[i] - before[i] < 64 * 1024, `worker ${i} grew by ${after[i] - before[i]} kB`);
  }
  assertServed(await bystander.stop());
  assert.equal(s.up.requests, bystander.result.ok, 'the flooded request never reached the upstream');
  await assertWorkersUnchanged(s);
});

test('CONTINUATION frames of garbage end the connection with a compression error', async (t) => {
  const s = await stage(t);
  const attacker = await RawH2.open(s.gw.port);
  t.after(() => attacker.destroy());
  await attacker.until((c) => c.serverSettings !== undefined, 'the server SETTINGS');
  attacker.write(headersFrame(1, requestBlock(HOST, '/cont'), { endHeaders: false }));
  let sent = 0;
  for (; sent < CONTINUATION_FRAMES && !attacker.closed && attacker.goaway === undefined; sent++) {
    attacker.write(continuationFrame(1, Buffer.alloc(DEFAULT_MAX_FRAME, 0x20)));
    await new Promise((r) => setTimeout(r, 1));
  }
  await attacker.untilClosed();
  t.diagnostic(`garbage continuation: ${sent} frames, goaway ${JSON.stringify(attacker.goaway)}`);
  assert.ok(sent < CONTINUATION_FRAMES);
  assert.equal(attacker.goaway?.code, H2_ERROR.COMPRESSION_ERROR);
  assert.equal(s.up.requests, 0);
  await assertWorkersUnchanged(s);
});

/** Control frames a flood sends at most. */
const CONTROL_FLOOD = 200_000;
const FLOOD_BURST = 500;

for (const kind of ['SETTINGS', 'PING'] as const) {
  for (const reads of [true, false]) {
    test(`${kind} flood from a client that ${reads ? 'reads every ACK' : 'never reads'}: the connection is closed, others are served`, async (t) => {
      const s = await stage(t);
      const bystander = new Bystander(s).start(t);
      const attacker = await RawH2.open(s.gw.tlsPort, { tls: { servername: HOST, ca: s.ca.certPem } });
      t.after(() => attacker.destroy());
      await attacker.until((c) => c.serverSettings !== undefined, 'the server SETTINGS');
      // A flooder that reads nothing lets every ACK the gateway owes pile up on the gateway's side.
      if (!reads) attacker.socket.pause();
      const one = kind === 'SETTINGS' ? settingsFrame([[SETTING.INITIAL_WINDOW_SIZE, 65_535]]) : pingFrame();
      const burst = Buffer.concat(Array.from({ length: FLOOD_BURST }, () => one));
      let sent = 0;
      // A GOAWAY ends the flood: the close that follows it may take a moment (the gateway lets the
      // client read the GOAWAY first), and frames sent meanwhile are not the gateway's doing.
      for (; sent < CONTROL_FLOOD && !attacker.closed && attacker.goaway === undefined; sent += FLOOD_BURST) {
        attacker.write(burst);
        if (reads) {
          // In step with the ACKs, so nothing we sent is unread when the gateway closes (a close with
          // unread data is a TCP reset, and the reset would lose the GOAWAY before we read it).
          const owed = sent + FLOOD_BURST + 1;
          await attacker.until((c) => c.closed || c.goaway !== undefined || c.acks() >= owed, 'the ACKs');
        } else if (attacker.socket.writableLength > 0) await new Promise((r) => setTimeout(r, 1));
        else await new Promise((r) => setImmediate(r));
      }
      attacker.socket.resume();
      await attacker.untilClosed();
      t.diagnostic(
        `${kind} flood (${reads ? 'reading' : 'not reading'}): ${sent} frames sent, goaway ${JSON.stringify(attacker.goaway)}`,
      );
      assert.ok(sent < CONTROL_FLOOD, 'the gateway closed the connection before the flood ended');
      if (reads) assert.equal(attacker.goaway?.code, H2_ERROR.ENHANCE_YOUR_CALM);
      assertServed(await bystander.stop());
      await assertWorkersUnchanged(s);
    });
  }
}

test('a header list larger than maxHeaderSize is refused on its stream and never forwarded', async (t) => {
  const s = await stage(t);
  const c = await RawH2.open(s.gw.port);
  t.after(() => c.destroy());
  // 20 KiB of one field (default maxHeaderSize 16 KiB), split over HEADERS + CONTINUATION.
  const block = requestBlock(HOST, '/big', { extra: [['x-big', 'b'.repeat(20 * 1024)]] });
  c.write(headersFrame(1, block.subarray(0, DEFAULT_MAX_FRAME), { endHeaders: false }));
  c.write(continuationFrame(1, block.subarray(DEFAULT_MAX_FRAME), true));
  await c.until((x) => x.resets().has(1) || x.statuses().has(1) || x.closed, 'an answer on stream 1');
  t.diagnostic(
    `oversized: rst ${c.resets().get(1)}, status ${c.statuses().get(1)}, goaway ${JSON.stringify(c.goaway)}`,
  );
  const refused = c.resets().has(1) || c.statuses().get(1) === 431 || c.goaway !== undefined;
  assert.ok(refused, 'stream 1 was refused');
  // The connection serves the next stream if it was kept.
  if (!c.closed && c.goaway === undefined) {
    c.write(headersFrame(3, requestBlock(HOST, '/next')));
    await c.until((x) => x.statuses().has(3), 'an answer on stream 3');
    assert.equal(c.statuses().get(3), 200);
    assert.equal(s.up.requests, 1, 'only the next stream reached the upstream');
  } else assert.equal(s.up.requests, 0);
  await assertWorkersUnchanged(s);
});

/** Waits until the upstream has seen `n` requests. */
async function upstreamSaw(s: Stage, n: number): Promise<void> {
  await waitFor(() => s.up.requests >= n, 10_000, `${n} requests at the upstream`);
}

test('the advertised maxConcurrentStreams is enforced: extra streams refused before the SETTINGS ACK', async (t) => {
  const limit = 8;
  const s = await stage(t, { http2: { maxConcurrentStreams: limit }, hold: true });
  const c = await RawH2.open(s.gw.port, { ackSettings: false });
  t.after(() => c.destroy());
  await c.until((x) => x.serverSettings !== undefined, 'the server SETTINGS');
  assert.equal(c.serverSettings?.get(SETTING.MAX_CONCURRENT_STREAMS), limit);
  const extra = 4;
  const batch: Buffer[] = [];
  for (let i = 0; i < limit + extra; i++)
    batch.push(headersFrame(1 + 2 * i, requestBlock(HOST, `/slow/${i}`)));
  c.write(Buffer.concat(batch));
  await c.until((x) => x.resets().size >= extra, `${extra} refused streams`);
  await upstreamSaw(s, limit);
  const refused = [...c.resets()].filter(([, code]) => code === H2_ERROR.REFUSED_STREAM).map(([id]) => id);
  t.diagnostic(`concurrency before ACK: refused streams ${refused}, upstream saw ${s.up.requests}`);
  assert.deepEqual(refused, [17, 19, 21, 23]);
  for (const res of s.up.held) res.end('ok');
  // Ended, not just answered: a stream still open on the gateway's side still counts against the limit.
  await c.until((x) => x.ended().size >= limit, 'the held streams to end');
  assert.deepEqual(
    [...c.statuses().values()],
    Array.from({ length: limit }, () => 200),
  );
  assert.equal(s.up.requests, limit, 'no refused stream reached the upstream');
  assert.equal(c.goaway, undefined);
  // The connection stays usable once streams are free.
  c.write(headersFrame(25, requestBlock(HOST, '/after')));
  await c.until((x) => x.statuses().has(25), 'an answer on stream 25');
  assert.equal(c.statuses().get(25), 200);
  await assertWorkersUnchanged(s);
});

test('a client that exceeds the acknowledged maxConcurrentStreams loses its connection, others are served', async (t) => {
  const limit = 8;
  const s = await stage(t, { http2: { maxConcurrentStreams: limit }, hold: true });
  const bystander = new Bystander(s).start(t);
  const c = await RawH2.open(s.gw.port);
  t.after(() => c.destroy());
  await c.until(
    (x) => x.frames.some((f) => f.type === FRAME.SETTINGS && f.flags & 1),
    'the ACK of our SETTINGS',
  );
  const batch: Buffer[] = [];
  for (let i = 0; i < limit + 4; i++) batch.push(headersFrame(1 + 2 * i, requestBlock(HOST, `/slow/${i}`)));
  c.write(Buffer.concat(batch));
  await c.untilClosed();
  t.diagnostic(`concurrency after ACK: goaway ${JSON.stringify(c.goaway)}, upstream saw ${s.up.requests}`);
  assert.equal(c.goaway?.code, H2_ERROR.PROTOCOL_ERROR);
  assert.equal(
    c.goaway?.lastStreamId,
    2 * limit - 1,
    'the last stream within the limit is the last one seen',
  );
  assertServed(await bystander.stop());
  await assertWorkersUnchanged(s);
});
