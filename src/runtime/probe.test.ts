import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sleep } from '../util/sleep.ts';
import { freePort, freePortSync } from './ports.ts';
import { ProbeThreshold, probeHttp } from './probe.ts';

describe('ProbeThreshold', () => {
  const cases: { name: string; s: number; f: number; initial: boolean; results: string; expect: string }[] = [
    {
      name: 'one success makes ready with threshold 1',
      s: 1,
      f: 3,
      initial: false,
      results: '+',
      expect: 'T',
    },
    {
      name: 'needs two consecutive successes',
      s: 2,
      f: 3,
      initial: false,
      results: '+-+-++',
      expect: 'FFFFFT',
    },
    {
      name: 'failures are ignored while not ready',
      s: 1,
      f: 1,
      initial: false,
      results: '---+',
      expect: 'FFFT',
    },
    {
      name: 'three failures make not ready',
      s: 1,
      f: 3,
      initial: false,
      results: '+--+---',
      expect: 'TTTTTTF',
    },
    {
      name: 'a success resets the failure count',
      s: 1,
      f: 2,
      initial: true,
      results: '-+-+--',
      expect: 'TTTTTF',
    },
    {
      name: 'liveness starts alive and dies after one failure',
      s: 1,
      f: 1,
      initial: true,
      results: '-',
      expect: 'F',
    },
    { name: 'recovers after dying', s: 2, f: 2, initial: true, results: '--+++', expect: 'TFFTT' },
    { name: 'thresholds below 1 act as 1', s: 0, f: 0, initial: false, results: '+-', expect: 'TF' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const t = new ProbeThreshold(c.s, c.f, c.initial);
      let got = '';
      let prev = t.value;
      for (const r of c.results) {
        const changed = t.record(r === '+');
        assert.equal(changed, t.value !== prev, 'record() reports a change exactly when the verdict flips');
        prev = t.value;
        got += t.value ? 'T' : 'F';
      }
      assert.equal(got, c.expect);
    });
  }
});

describe('probeHttp', () => {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') return res.end('ok');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/elsewhere' });
        return res.end();
      }
      if (req.url === '/hang') return; // never answers
      res.writeHead(500);
      res.end('boom');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('2xx is success', async () => {
    assert.deepEqual(await probeHttp(port, '/ok', 1000), { ok: true, status: 200 });
  });
  test('3xx is success and not followed', async () => {
    assert.deepEqual(await probeHttp(port, '/redirect', 1000), { ok: true, status: 302 });
  });
  test('5xx is a failure naming path and status', async () => {
    assert.deepEqual(await probeHttp(port, '/bad', 1000), { ok: false, status: 500, error: 'GET /bad: 500' });
  });
  test('a closed port is ECONNREFUSED', async () => {
    const closed = await freePort();
    assert.deepEqual(await probeHttp(closed, '/ready', 1000), {
      ok: false,
      error: 'GET /ready: ECONNREFUSED',
    });
  });
  test('a hanging server times out within the timeout', async () => {
    const t0 = Date.now();
    const r = await probeHttp(port, '/hang', 200);
    const took = Date.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.error, 'GET /hang: timeout after 200ms');
    assert.ok(took >= 190 && took < 1000, `took ${took}ms`);
  });
  test('probes keep no connection open', async () => {
    for (let i = 0; i < 5; i++) await probeHttp(port, '/ok', 1000);
    const connections = () =>
      new Promise<number>((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n))));
    const deadline = Date.now() + 1000;
    while ((await connections()) > 0 && Date.now() < deadline) await sleep(20);
    assert.equal(await connections(), 0);
  });
});

describe('ports', () => {
  const bindable = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const s = createTcpServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  test('freePort returns a port that can be bound on 127.0.0.1', async () => {
    const p = await freePort();
    assert.ok(p > 0 && p < 65536);
    await bindable(p);
  });
  test('freePortSync returns a port that can be bound on 127.0.0.1 right away', async () => {
    const a = freePortSync();
    const b = freePortSync();
    assert.ok(a > 0 && b > 0);
    await bindable(a);
    await bindable(b);
  });
});
