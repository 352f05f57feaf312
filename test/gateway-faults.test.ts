/**
 * Fault injection through a real gateway (master + 2 workers) to real upstreams: only the named
 * revision's requests are faulted, the share is within a binomial bound, every fault is counted.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { type TestContext, test } from 'node:test';
import type { FaultConfig } from '../src/config/types.ts';
import type { RouteService, StatsReport } from '../src/gateway/protocol.ts';
import { request, roleUpstream, service, startUpstream, table } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

const T = { timeout: 90_000 };

/** |x - n p| within 5 standard deviations: fails by chance about once in 1.7 million runs. */
function assertBinomial(x: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(x - n * p) <= 5 * sd, `${what}: ${x} of ${n}, expected ${n * p} +- ${5 * sd}`);
}

async function gatewayWith(t: TestContext, faults: FaultConfig[] | undefined) {
  const stable = await startUpstream(t, 'stable');
  const canary = await startUpstream(t, 'canary');
  const gw = await spawnGateway(t, settingsIn(tempDir(t), { workers: 2 }));
  const def: RouteService = service(
    'web',
    [roleUpstream('s1', stable.port, 'stable', 1), roleUpstream('c1', canary.port, 'canary', 2)],
    faults === undefined ? {} : { faults },
  );
  const put = await admin(gw.admin, 'PUT', '/routes', table(1, def));
  assert.equal(put.status, 200, JSON.stringify(put.json));
  return { gw, stable, canary };
}

interface Outcome {
  status: number;
  body: string;
  fault: boolean;
  ms: number;
}

async function send(port: number, n: number): Promise<Outcome[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const out: Outcome[] = [];
  try {
    for (let i = 0; i < n; i += 32) {
      const batch = Array.from({ length: Math.min(32, n - i) }, async () => {
        const started = performance.now();
        const r = await request(port, '/', { agent });
        out.push({
          status: r.status,
          body: r.body,
          fault: r.headers['x-cutover-fault'] === 'abort',
          ms: performance.now() - started,
        });
      });
      await Promise.all(batch);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

async function stats(socket: string): Promise<StatsReport> {
  return (await admin(socket, 'GET', '/stats')).json as unknown as StatsReport;
}

test(
  'abort: only the named revision is faulted, at its share, each fault counted and never sent on',
  T,
  async (t) => {
    const { gw, stable, canary } = await gatewayWith(t, [
      { revision: 2, abort: { status: 503, percent: 10 } },
    ]);
    const N = 2000;
    const got = await send(gw.port, N);
    assert.equal(got.length, N);
    const faulted = got.filter((g) => g.fault);
    assert.ok(faulted.length > 0);
    assert.ok(faulted.every((g) => g.status === 503 && /fault injected/.test(g.body)));
    // Every other response is a real answer of an upstream: nothing failed that was not injected.
    const real = got.filter((g) => !g.fault);
    assert.ok(real.every((g) => g.status === 200 && /^ok (stable|canary)$/.test(g.body)));
    const report = await stats(gw.admin);
    const r1 = report.services.web.revisions['1'];
    const r2 = report.services.web.revisions['2'];
    assert.equal(r1.faults, undefined, 'the stable revision is never faulted');
    assert.equal(r1.status['5xx'], 0);
    assert.equal(r2.faults?.aborted, faulted.length);
    assert.equal(r2.faults?.delayed, 0);
    assert.equal(
      r2.status['5xx'],
      faulted.length,
      'an abort is a 5xx response of its revision (analysis sees it)',
    );
    assert.equal(r2.errors, 0, 'not counted as a gateway error of the instance');
    assert.equal(r1.requests + r2.requests, N);
    assert.equal(
      canary.requests.length,
      r2.requests - faulted.length,
      'aborted requests never reach the instance',
    );
    assert.equal(stable.requests.length, r1.requests);
    assertBinomial(faulted.length, r2.requests, 0.1, 'aborted share of revision 2');
  },
);

test('delay: the named share is held before it is sent on, and counted', T, async (t) => {
  const { gw, canary } = await gatewayWith(t, [{ revision: 2, delay: { ms: 200, percent: 20 } }]);
  const N = 600;
  const got = await send(gw.port, N);
  assert.ok(got.length === N && got.every((g) => g.status === 200), 'a delay fails nothing');
  const r2 = (await stats(gw.admin)).services.web.revisions['2'];
  const delayed = r2.faults?.delayed ?? 0;
  assert.ok(delayed > 0);
  assert.equal(r2.faults?.aborted, 0);
  assert.equal(canary.requests.length, r2.requests, 'delayed requests still reach the instance');
  assertBinomial(delayed, r2.requests, 0.2, 'delayed share of revision 2');
  const slowCanary = got.filter((g) => g.body === 'ok canary' && g.ms >= 200).length;
  assert.ok(slowCanary >= delayed, `${slowCanary} canary responses took 200 ms or more, ${delayed} delayed`);
  // The histogram has the delay in it: at least `delayed` requests of revision 2 above 100 ms.
  const above = r2.latencyBuckets.slice(9).reduce((a, b) => a + b, 0);
  assert.ok(above >= delayed, `${above} requests over 100 ms, ${delayed} delayed`);
});

test('a fault without a revision applies to the whole route; a bad faults table is refused', T, async (t) => {
  const { gw, stable, canary } = await gatewayWith(t, [{ abort: { status: 500, percent: 100 } }]);
  const got = await send(gw.port, 64);
  assert.ok(got.length === 64 && got.every((g) => g.status === 500 && g.fault));
  assert.equal(stable.requests.length + canary.requests.length, 0);
  const bad = await admin(
    gw.admin,
    'PUT',
    '/routes',
    table(2, service('web', [], { faults: [{ abort: { status: 503, percent: 150 } }] })),
  );
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.json), /faults \[0\]\.abort\.percent must be 0\.\.100/);
});
