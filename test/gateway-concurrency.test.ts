/** limits.maxInFlightPerInstance and queueTimeout through a real gateway worker to a real upstream. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import {
  type Reply,
  request,
  service,
  startGateway,
  startUpstream,
  table,
  upstream,
  waitFor,
} from './helpers/gateway-helpers.ts';

const T = { timeout: 60_000 };

test(
  'an instance gets at most maxInFlightPerInstance; the rest wait and are served in arrival order; a request whose client left is never sent',
  T,
  async (t) => {
    // Given one instance that holds every request until the test lets it answer, limited to 2 at once
    const held: Array<{ url: string; answer: () => void }> = [];
    const up = await startUpstream(t, 'web', (req, res) => {
      held.push({ url: req.url!, answer: () => res.end(`done ${req.url}`) });
    });
    const { gw, port } = await startGateway(
      t,
      table(
        1,
        service('web', [upstream('web-1', up.port)], {
          policy: { maxInFlightPerInstance: 2, queueTimeoutMs: 30_000 },
        }),
      ),
    );
    const limit = () => gw.routing.limitOf(gw.routing.router.match('x', '/')!)!;
    // When six requests arrive one after another
    const replies: Array<Promise<Reply>> = [];
    let gone: http.ClientRequest | null = null;
    for (let i = 0; i < 6; i++) {
      if (i === 3) {
        // r3's client leaves while it waits
        gone = http.get({ host: '127.0.0.1', port, path: '/r3', agent: false });
        gone.on('error', () => {});
      } else replies.push(request(port, `/r${i}`));
      if (i < 2) await waitFor(() => held.length === i + 1, 10_000, `r${i} at the instance`);
      else await waitFor(() => limit().waiting === i - 1, 10_000, `r${i} queued`);
    }
    // Then the instance has exactly two
    assert.equal(held.length, 2);
    gone!.destroy();
    // When it answers one at a time, the queue moves in arrival order, skipping the one that left
    for (const want of ['/r2', '/r4', '/r5']) {
      held.shift()!.answer();
      await waitFor(() => held.some((h) => h.url === want), 10_000, `${want} at the instance`);
      assert.ok(held.length <= 2, `${held.length} in flight`);
    }
    for (const h of held.splice(0)) h.answer();
    const got = await Promise.all(replies);
    assert.deepEqual(
      got.map((r) => `${r.status} ${r.body}`),
      ['200 done /r0', '200 done /r1', '200 done /r2', '200 done /r4', '200 done /r5'],
    );
    assert.ok(
      !up.requests.some((r) => r.url === '/r3'),
      'the request whose client left never reached the instance',
    );
    assert.equal(limit().waiting, 0);
  },
);

test(
  'a request that waits longer than queueTimeout gets 503 with Retry-After; without a queue at once',
  T,
  async (t) => {
    const held: Array<() => void> = [];
    const up = await startUpstream(t, 'web', (_req, res) => held.push(() => res.end('ok')));
    t.after(() => {
      for (const h of held) h();
    });
    const { port } = await startGateway(
      t,
      table(
        1,
        service('queued', [upstream('web-q', up.port)], {
          host: 'queued.test',
          policy: { maxInFlightPerInstance: 1, queueTimeoutMs: 150 },
        }),
        service('unqueued', [upstream('web-u', up.port)], {
          host: 'unqueued.test',
          policy: { maxInFlightPerInstance: 1 },
        }),
      ),
    );
    const first = request(port, '/', { host: 'queued.test' });
    const firstU = request(port, '/', { host: 'unqueued.test' });
    await waitFor(() => held.length === 2, 10_000, 'both services full');
    const late = await request(port, '/', { host: 'queued.test' });
    assert.equal(late.status, 503);
    assert.equal(late.headers['retry-after'], '1');
    assert.match(late.body, /at its limit of 1 requests in flight/);
    const now = await request(port, '/', { host: 'unqueued.test' });
    assert.equal(now.status, 503);
    assert.equal(now.headers['retry-after'], '1');
    for (const h of held.splice(0)) h();
    assert.equal((await first).status, 200);
    assert.equal((await firstU).status, 200);
  },
);
