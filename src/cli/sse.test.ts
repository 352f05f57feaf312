import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { ApiResponseError, ControlClient } from './client.ts';
import { followEvents, SseParser } from './sse.ts';

test('SseParser: fields, multi-line data, comments, ids that stick, retry', () => {
  const p = new SseParser();
  const events = p.push(
    ': keep-alive\n\nevent: status\ndata: {"a":1}\n\nid: 7\nevent: event\ndata: one\ndata:two\n\ndata: plain\n\nretry: 900\nunknown: x\n\n',
  );
  assert.deepEqual(events, [
    { event: 'status', data: '{"a":1}', id: undefined },
    { event: 'event', data: 'one\ntwo', id: '7' },
    { event: 'message', data: 'plain', id: '7' },
  ]);
  assert.equal(p.lastEventId, '7');
  assert.equal(p.retryMs, 900);
});

test('SseParser: events split anywhere across chunks, LF, CR and CRLF line ends', () => {
  const text =
    'id: 1\r\nevent: status\r\ndata: x\r\n\r\nid: 2\revent: event\rdata: y\r\rid: 3\nevent: event\ndata: z\n\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const p = new SseParser();
    const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
    assert.deepEqual(
      events.map((e) => [e.id, e.event, e.data]),
      [
        ['1', 'status', 'x'],
        ['2', 'event', 'y'],
        ['3', 'event', 'z'],
      ],
      `cut at ${cut}`,
    );
  }
});

test('SseParser: reset drops a half-received event, keeps the last id', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('id: 4\nevent: event\ndata: a\n\nevent: status\ndata: half'), [
    { event: 'event', data: 'a', id: '4' },
  ]);
  p.reset();
  assert.deepEqual(p.push('\n\n'), []);
  assert.equal(p.lastEventId, '4');
});

/** A real event-stream server: `handle` writes each connection's events, given its Last-Event-ID. */
async function eventServer(
  t: TestContext,
  handle: (res: http.ServerResponse, lastEventId: string | undefined, n: number) => void,
): Promise<{ client: ControlClient; ids: Array<string | undefined> }> {
  const ids: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    const id = req.headers['last-event-id'] as string | undefined;
    ids.push(id);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    handle(res, id, ids.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { client: new ControlClient(`127.0.0.1:${port}`, { token: '' }), ids };
}

test('followEvents: a dropped stream is reopened with Last-Event-ID; done when the caller is satisfied', async (t) => {
  const { client, ids } = await eventServer(t, (res, lastId, n) => {
    if (n === 1) {
      res.write('retry: 10\nid: 1\nevent: event\ndata: first\n\n');
      res.end();
    } else {
      res.write(`id: ${Number(lastId) + 1}\nevent: event\ndata: second\n\n`);
    }
  });
  const seen: string[] = [];
  const outcome = await followEvents(client, '/v1/stream', {
    deadline: Date.now() + 60_000,
    onEvent: (e) => {
      seen.push(`${e.id}:${e.data}`);
      return e.data === 'second';
    },
  });
  assert.equal(outcome, 'done');
  assert.deepEqual(seen, ['1:first', '2:second']);
  assert.deepEqual(ids, [undefined, '1']);
});

test('followEvents: a stream that never satisfies the caller ends at the deadline', async (t) => {
  const { client } = await eventServer(t, (res) => res.write(': keep-alive\n\n'));
  const outcome = await followEvents(client, '/v1/stream', {
    deadline: Date.now() + 300,
    onEvent: () => false,
  });
  assert.equal(outcome, 'timeout');
});

test('followEvents: a refused stream is an ApiResponseError, the caller’s errors propagate', async (t) => {
  const server = http.createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"unauthorized","message":"a token is required"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const refused = new ControlClient(`127.0.0.1:${port}`, { token: '' });
  await assert.rejects(
    followEvents(refused, '/v1/stream', { deadline: Date.now() + 60_000, onEvent: () => false }),
    (err: unknown) => err instanceof ApiResponseError && err.status === 401,
  );
  const { client } = await eventServer(t, (res) => res.write('event: status\ndata: {}\n\n'));
  await assert.rejects(
    followEvents(client, '/v1/stream', {
      deadline: Date.now() + 60_000,
      onEvent: () => {
        throw new Error('handler failed');
      },
    }),
    /handler failed/,
  );
});
