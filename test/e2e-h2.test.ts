/**
 * Releases under HTTP/2 load over TLS, through a real `cutover up` serving HTTPS: rolling (node:http2 and
 * h2load), blue-green and canary, gateway reload and master re-exec. Every stream's outcome is counted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { describe, test } from 'node:test';
import { processAlive } from '../src/runtime/process-group.ts';
import { allOnVersion, type Cluster, useCluster } from './helpers/cluster.ts';
import type { GatewayHealth } from './helpers/gateway-process.ts';
import type { H2LoadReport } from './helpers/h2-load.ts';
import { h2Get } from './helpers/tls-client.ts';
import { h2LoadOn, requestsCounted, upWithTls, WEB_HOST } from './helpers/tls-cluster.ts';
import { waitFor } from './helpers/wait.ts';

const BLUE_GREEN = `{ type: blueGreen, scaleDownDelay: 30s, preview: { header: "X-Cutover-Preview: true" }, progressDeadline: 20s }`;
const CANARY = `{ type: canary, canaryReplicas: 1, progressDeadline: 20s, steps: [ { setWeight: 50 }, { pause: {} }, { setWeight: 100 } ] }`;

/** Streams of one h2load run (one rolling release needs several runs; each run's count is checked). */
const H2LOAD_REQUESTS = 1500;

function describeH2(r: H2LoadReport): string {
  return `${r.ok}/${r.sent} ok, ${r.failed} failed, ${r.retried} refused and sent again ${JSON.stringify(r.retriedBy)}, ${r.goaways} GOAWAY, ${r.connections} connections; versions ${JSON.stringify(r.versions)}; failures: ${r.failures.slice(0, 5).join(' | ')}; session errors: ${r.sessionErrors.slice(0, 5).join(' | ')}`;
}

interface H2loadRun {
  code: number | null;
  total: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  ok2xx: number;
  output: string;
}

/** One h2load run of H2LOAD_REQUESTS requests through the cluster's HTTPS port (SNI web.test). */
function h2load(c: Cluster): Promise<H2loadRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      'h2load',
      [
        '-n',
        String(H2LOAD_REQUESTS),
        '-c',
        '2',
        '-m',
        '4',
        `--connect-to=127.0.0.1:${c.tlsPort}`,
        `https://${WEB_HOST}:${c.tlsPort}/`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    p.stdout.on('data', (x: Buffer) => (output += x));
    p.stderr.on('data', (x: Buffer) => (output += x));
    p.on('error', reject);
    p.on('exit', (code) => {
      const m =
        /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
          output,
        );
      const s = /status codes: (\d+) 2xx/.exec(output);
      resolve({
        code,
        total: Number(m?.[1] ?? -1),
        succeeded: Number(m?.[2] ?? -1),
        failed: Number(m?.[3] ?? -1),
        errored: Number(m?.[4] ?? -1),
        timeout: Number(m?.[5] ?? -1),
        ok2xx: Number(s?.[1] ?? -1),
        output,
      });
    });
  });
}

describe('releases under HTTP/2 load over TLS', { timeout: 180_000 }, () => {
  test('rolling release under h2 load: 0 failed streams, the revision counts the h2 streams exactly; h2load through a second rolling release: every request succeeded', async (t) => {
    // Given v1 behind the HTTPS listener, under HTTP/2 load (2 connections x 4 concurrent streams)
    const c = useCluster(t);
    const f = await upWithTls(c, { replicas: 2 });
    const load = h2LoadOn(c, f, { sessions: 2, streams: 4, pauseMs: 2 });
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 10, 20_000, '10 h2 responses from v1');

    // When v2 rolls out
    const r = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(r.code, 0, `stdout=${r.stdout} stderr=${r.stderr}`);
    await waitFor(() => (load.report.versions.v2 ?? 0) >= 10, 20_000, '10 h2 responses from v2');
    const report = await load.stop();
    t.diagnostic(`rolling under node:http2 load: ${describeH2(report)}`);

    // Then no stream failed or had to be sent again, and both revisions answered
    assert.equal(report.failed, 0, describeH2(report));
    assert.equal(report.retried, 0, describeH2(report));
    assert.equal(report.ok, report.sent, describeH2(report));
    assert.ok(
      (report.versions.v1 ?? 0) > 0 && (report.versions.v2 ?? 0) > 0,
      JSON.stringify(report.versions),
    );
    assert.deepEqual(load.handshakes.failures, []);

    // And the analysis data (the revision's request counter) counts h2 streams one for one
    const before = await requestsCounted(c, 2);
    assert.ok(before > 0, `revision 2 counted the h2 load (${before})`);
    const fixed = await h2LoadOn(c, f, { sessions: 2, streams: 4, count: 200 }).done();
    assert.equal(fixed.ok, 200, describeH2(fixed));
    await c.waitFor(async () => (await requestsCounted(c, 2)) >= before + 200, 10_000, 'counters caught up');
    assert.equal(await requestsCounted(c, 2), before + 200);

    // When v1 rolls out again (revision 3) while h2load runs back to back until it is done
    const all = await requestsCounted(c);
    let deployed = false;
    const deploy = c.cli(['deploy', 'web', '--version', 'v1', '--wait']).finally(() => {
      deployed = true;
    });
    const runs: H2loadRun[] = [];
    do runs.push(await h2load(c));
    while (!deployed || runs.length < 2);
    const d = await deploy;
    assert.equal(d.code, 0, d.stderr);
    t.diagnostic(
      `h2load during the second rolling release: ${runs.length} runs of ${H2LOAD_REQUESTS}: ${runs.map((x) => `${x.succeeded} ok/${x.failed + x.errored + x.timeout} bad`).join(', ')}`,
    );

    // Then every h2load request of every run succeeded with a 2xx, and the gateway counted each one
    for (const run of runs) {
      assert.equal(run.code, 0, run.output);
      assert.deepEqual(
        [run.total, run.succeeded, run.failed, run.errored, run.timeout, run.ok2xx],
        [H2LOAD_REQUESTS, H2LOAD_REQUESTS, 0, 0, 0, H2LOAD_REQUESTS],
        run.output,
      );
    }
    const sent = runs.length * H2LOAD_REQUESTS;
    await c.waitFor(async () => (await requestsCounted(c)) >= all + sent, 10_000, 'counters caught up');
    assert.equal(await requestsCounted(c), all + sent);
    assert.ok(allOnVersion(await c.status(), 'v1'));
  });

  test('blue-green release under h2 load: preview by header over h2, promote switches every new stream, 0 failed streams', async (t) => {
    // Given the blue side (v1) under HTTP/2 load
    const c = useCluster(t);
    const f = await upWithTls(c, { replicas: 2, strategy: BLUE_GREEN });
    const load = h2LoadOn(c, f, { sessions: 2, streams: 3, pauseMs: 2 });
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 10, 20_000, '10 h2 responses from blue');

    // When green (v2) is deployed, only h2 streams with the preview header reach it
    const d = await c.cli(['deploy', 'web', '--version', 'v2']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(
      async () => (await c.status()).rollout?.waitingFor === 'preview ready: waiting for promote',
      20_000,
      'preview ready',
    );
    const preview = await h2Get(c.tlsPort, WEB_HOST, f.ca.certPem, '/', { 'x-cutover-preview': 'true' });
    assert.equal(preview.status, 200);
    assert.match(preview.body, /"version":"v2"/);
    assert.equal(load.report.versions.v2 ?? 0, 0, 'no ordinary stream reached the preview');

    // When promoted, the same h2 connections get green
    const p = await c.cli(['promote', 'web']);
    assert.equal(p.code, 0, p.stderr);
    await waitFor(() => (load.report.versions.v2 ?? 0) >= 10, 20_000, '10 h2 responses from green');
    const report = await load.stop();
    t.diagnostic(`blue-green under h2 load: ${describeH2(report)}`);

    // Then no stream failed, and the connections lived through the switch
    assert.equal(report.failed, 0, describeH2(report));
    assert.equal(report.retried, 0, describeH2(report));
    assert.equal(report.connections, 2, describeH2(report));
    assert.ok((report.versions.v1 ?? 0) > 0, JSON.stringify(report.versions));
  });

  test('canary release under h2 load: both revisions answer h2 streams at 50%, full promotion, 0 failed streams', async (t) => {
    // Given v1 under HTTP/2 load from many users
    const c = useCluster(t);
    const f = await upWithTls(c, {
      replicas: 2,
      strategy: CANARY,
      traffic: '{ stickyBy: "header:X-User-Id" }',
    });
    const load = h2LoadOn(c, f, {
      sessions: 2,
      streams: 3,
      pauseMs: 2,
      headers: (n) => ({ 'x-user-id': `h2-${n % 300}` }),
    });
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 10, 20_000, '10 h2 responses from v1');

    // When v2 is deployed and the canary waits at 50%
    const d = await c.cli(['deploy', 'web', '--version', 'v2']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(
      async () => (await c.status()).step?.waitingFor === 'pause: waiting for promote',
      20_000,
      'pause at 50%',
    );
    const atPause = load.report.versions.v2 ?? 0;
    await waitFor(
      () => (load.report.versions.v2 ?? 0) >= atPause + 20,
      20_000,
      '20 h2 responses from the canary',
    );
    const before = await requestsCounted(c, 2);
    assert.ok(before > 0, 'the canary revision counts h2 streams');

    // When fully promoted
    const p = await c.cli(['promote', 'web', '--full']);
    assert.equal(p.code, 0, p.stderr);
    await c.waitFor(
      async () => {
        const s = await c.status();
        return s.stable.revision === 2 && !s.rollout && allOnVersion(s, 'v2');
      },
      30_000,
      'canary promoted',
    );
    await load.more(20, 'h2 streams after the promotion');
    const report = await load.stop();
    t.diagnostic(`canary under h2 load: ${describeH2(report)}`);

    // Then no stream failed
    assert.equal(report.failed, 0, describeH2(report));
    assert.equal(report.retried, 0, describeH2(report));
    assert.ok(
      (report.versions.v1 ?? 0) > 0 && (report.versions.v2 ?? 0) > 0,
      JSON.stringify(report.versions),
    );
    assert.ok((await requestsCounted(c, 2)) > before, 'revision 2 keeps counting h2 streams');
  });

  test('gateway reload under h2 load: clients get GOAWAY and reconnect, 0 failed streams; master re-exec and kill -9 of the master keep the TLS socket (fd 4)', async (t) => {
    // Given HTTP/2 load over 3 long-lived connections
    const c = useCluster(t);
    const f = await upWithTls(c, { replicas: 2 });
    const load = h2LoadOn(c, f, { sessions: 3, streams: 4, pauseMs: 2 });
    await load.more(50, 'h2 load running before the reloads');
    const first = await c.gatewayAdmin<GatewayHealth & { tlsPort: number }>('/healthz');

    // When the gateway reloads twice (new worker generations; the old ones drain)
    for (let i = 0; i < 2; i++) {
      const r = await c.cli(['reload']);
      assert.equal(r.code, 0, r.stderr);
      // Each client opens its next connection once told to go away. (Counting GOAWAY frames does not say
      // that: a graceful shutdown sends two per connection, so the first reload's frames already reached
      // the second reload's count.)
      await waitFor(
        () => load.report.connections >= 3 * (i + 2),
        20_000,
        `every h2 client on a new connection (reload ${i + 1})`,
      );
      await load.more(50, `h2 streams after reload ${i + 1}`);
    }
    const afterReloads = { ...load.report };
    t.diagnostic(`2 gateway reloads under h2 load: ${describeH2(afterReloads)}`);

    // Then every client was told to go away and reconnected, and no stream failed
    assert.equal(afterReloads.failed, 0, describeH2(afterReloads));
    assert.ok(afterReloads.goaways >= 6, describeH2(afterReloads));
    assert.ok(afterReloads.connections >= 9, `reconnected: ${describeH2(afterReloads)}`);

    // When the master re-executes
    const tlsSocket = readlinkSync(`/proc/${first.pid}/fd/4`);
    assert.match(tlsSocket, /^socket:/, 'the first master got the TLS socket as fd 4');
    const m = await c.cli(['reload', '--master', '--json']);
    assert.equal(m.code, 0, m.stderr);
    const next = (JSON.parse(m.stdout) as { pid: number }).pid;
    assert.notEqual(next, first.pid);
    // Then the new master serves the same TLS socket (fd 4, the one the controller holds) and port
    assert.equal(readlinkSync(`/proc/${next}/fd/4`), tlsSocket);
    await c.waitFor(async () => !processAlive(first.pid), 40_000, 'old master exited');
    const now = await c.gatewayAdmin<GatewayHealth & { tlsPort: number }>('/healthz');
    assert.equal(now.pid, next);
    assert.equal(now.tlsPort, first.tlsPort);
    await load.more(50, 'h2 streams served by the new master alone');
    const afterReexec = { ...load.report };
    t.diagnostic(`+ master re-exec: ${describeH2(afterReexec)}`);
    assert.equal(afterReexec.failed, 0, describeH2(afterReexec));

    // When that master is killed with SIGKILL, the controller starts another on the socket it holds
    const orphans = now.workerPids;
    assert.ok(orphans.length > 0, 'the master has workers');
    process.kill(next, 'SIGKILL');
    let replacement = 0;
    await c.waitFor(
      async () => {
        const h = await c.gatewayAdmin<GatewayHealth>('/healthz');
        replacement = h.pid;
        return h.ok && h.pid !== next;
      },
      20_000,
      'a replacement master',
    );
    await c.waitFor(async () => orphans.every((p) => !processAlive(p)), 40_000, 'orphaned workers drained');
    await load.more(50, 'h2 streams served by the replacement alone');
    const report = await load.stop();
    t.diagnostic(`+ kill -9 of the master: ${describeH2(report)}`);

    // Then it serves the same TLS socket and port, and no stream failed at any point
    assert.equal(readlinkSync(`/proc/${replacement}/fd/4`), tlsSocket);
    assert.equal((await c.gatewayAdmin<{ tlsPort: number }>('/healthz')).tlsPort, first.tlsPort);
    assert.equal(report.failed, 0, describeH2(report));
    assert.deepEqual(load.handshakes.failures, []);
  });
});
