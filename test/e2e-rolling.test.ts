import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { markedPids, useCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

describe('rolling release end to end', { timeout: 120_000 }, () => {
  test('rolling deploy of 4 replicas under load: 0 failed requests, all instances on v2', async (t) => {
    // Given 4 instances of v1 serving steady load through the gateway
    const c = useCluster(t);
    await c.up({ replicas: 4 });
    const load = c.startLoad({ concurrency: 8 });
    await waitFor(
      () => (load.report.versions.v1 ?? 0) >= 10,
      20_000,
      '10 responses from v1 before the deploy',
    );

    // When v2 is deployed with --wait
    const r = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    await waitFor(
      () => (load.report.versions.v2 ?? 0) >= 10,
      20_000,
      '10 responses from v2 after the deploy',
    );
    const report = await load.stop();

    // Then the deploy succeeded, no request failed, and only v2 is left
    assert.equal(r.code, 0, `deploy exit code; stdout=${r.stdout} stderr=${r.stderr}`);
    assert.match(r.stdout, /revision 2 of web is stable/);
    assert.equal(report.failed, 0, `failed requests: ${report.failures.join(' | ')}`);
    assert.ok(report.ok >= 20, `load actually ran (${report.ok} ok)`);
    assert.ok(
      (report.versions.v1 ?? 0) > 0 && (report.versions.v2 ?? 0) > 0,
      JSON.stringify(report.versions),
    );
    const s = await c.status();
    assert.equal(s.phase, 'Healthy');
    assert.deepEqual(
      s.instances.map((i) => `${i.version}/${i.state}`),
      ['v2/ready', 'v2/ready', 'v2/ready', 'v2/ready'],
    );
    const h = await c.cli(['history', 'web', '--json']);
    const hist = JSON.parse(h.stdout) as { revisions: Array<{ number: number; outcome: string }> };
    assert.deepEqual(
      hist.revisions.map((x) => [x.number, x.outcome]),
      [
        [1, 'superseded'],
        [2, 'stable'],
      ],
    );
  });

  test('a broken revision fails at progressDeadline and rolls back automatically: 0 failed requests', async (t) => {
    // Given v1 under load
    const c = useCluster(t);
    await c.up({ replicas: 2 });
    const load = c.startLoad({ concurrency: 4 });

    // When v3 (crashes at start-up) is deployed
    const r = await c.cli(['deploy', 'web', '--version', 'v3', '--wait']);
    const report = await load.stop();

    // Then the deploy fails with exit 1, v1 keeps serving, nothing failed for clients
    assert.equal(r.code, 1, `stdout=${r.stdout} stderr=${r.stderr}`);
    assert.match(r.stdout, /revision 2 of web failed: .*no progress/);
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.deepEqual(Object.keys(report.versions), ['v1']);
    const s = await c.status();
    assert.equal(s.stable.revision, 1);
    assert.equal(s.phase, 'Degraded');
    assert.ok(s.instances.length > 0, 'no instances');
    assert.ok(s.instances.every((i) => i.version === 'v1'));
    const h = await c.cli(['history', 'web']);
    assert.match(h.stdout, /2\s+v3\s+.*failed/);
    const logs = await c.cli(['logs', 'web', '--instance', 'x']);
    assert.equal(logs.code, 1, 'unknown instance is an error');
    // The crash output of the broken revision is kept for the operator.
    const ev = await c.cli(['events', 'web', '--json']);
    const types = (JSON.parse(ev.stdout) as { events: Array<{ type: string }> }).events.map((e) => e.type);
    assert.ok(types.includes('RolloutFailed') && types.includes('RollbackStarted'), types.join(','));
  });

  test('long requests in flight during a deploy complete with 200', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 2 });
    // Given six 3-second requests in flight on the v1 instances
    const slow = Array.from(
      { length: 6 },
      () =>
        new Promise<{ status: number; version: string }>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: c.gatewayPort, path: '/slow?ms=3000', agent: false }, (res) => {
              let b = '';
              res.on('data', (x) => (b += x));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, version: JSON.parse(b).version }));
            })
            .on('error', reject);
        }),
    );
    await waitFor(
      async () => {
        const { instances } = await c.gatewayAdmin<{ instances: Record<string, number> }>('/inflight');
        return Object.values(instances).reduce((a, b) => a + b, 0) >= 6;
      },
      20_000,
      'the six slow requests in flight at the gateway',
    );
    // When v2 rolls out (v1 instances are drained while those requests run)
    const r = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    // Then every slow request completed with 200 from v1
    const results = await Promise.all(slow);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      results.map((x) => `${x.status}/${x.version}`),
      Array(6).fill('200/v1'),
    );
  });

  test('WebSocket clients on a drained instance receive a close frame 1001', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    // Given a WebSocket connection through the gateway to the v1 instance
    const ws = new WebSocket(`ws://127.0.0.1:${c.gatewayPort}/ws`);
    const messages: string[] = [];
    ws.addEventListener('message', (e) => messages.push(String(e.data)));
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error('websocket error')));
    });
    const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) =>
      ws.addEventListener('close', (e) => resolve({ code: e.code, wasClean: e.wasClean })),
    );
    ws.send('ping');
    // When v2 replaces v1
    const r = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    // Then the client was closed cleanly with 1001 (Going Away), not reset
    const close = await closed;
    assert.equal(close.code, 1001);
    assert.equal(close.wasClean, true);
    assert.ok(
      messages.some((m) => m.includes('v1:ping')),
      messages.join(','),
    );
    // And a reconnect lands on v2
    const ws2 = new WebSocket(`ws://127.0.0.1:${c.gatewayPort}/ws`);
    const hello = await new Promise<string>((resolve) =>
      ws2.addEventListener('message', (e) => resolve(String(e.data))),
    );
    ws2.close();
    assert.match(hello, /"version":"v2"/);
  });

  test('the gateway keeps serving its last routes when the controller is killed', async (t) => {
    // Given v1 serving through the gateway
    const c = useCluster(t);
    await c.up({ replicas: 2 });
    const logs = await c.cli(['logs', 'web', '--tail', '5']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(
      logs.stdout,
      /^web-1-[0-9a-f]{6} \| .*"msg":"listening"/m,
      'instance logs are captured and prefixed',
    );
    // When the controller process dies without any chance to clean up
    const upPid = c.upPid();
    assert.ok(upPid);
    process.kill(upPid, 'SIGKILL');
    await c.upExit;
    // Then traffic still flows through the gateway to the running instances, without failures
    const load = c.startLoad({ concurrency: 4 });
    await load.more(101, '101 requests without a controller');
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.ok(report.ok > 100, `served ${report.ok}`);
    assert.deepEqual(Object.keys(report.versions), ['v1']);
  });

  test('cutover up leaves no process behind on SIGTERM', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 3 });
    const before = markedPids(c.id);
    // up + gateway master + 2 gateway workers + 3 instances (each a shell and/or node)
    assert.ok(before.length >= 7, `processes while running: ${before.length}`);
    const code = await c.stop();
    assert.equal(code, 0);
    assert.deepEqual(markedPids(c.id), []);
  });
});
