/** `cutover reload [--master]` and kill -9 of the gateway master, through a real `cutover up` under load. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { bindListenHandle } from '../src/gateway/listener.ts';
import { processAlive as alive } from '../src/runtime/process-group.ts';
import { type Cluster, ROOT, useCluster } from './helpers/cluster.ts';
import type { GatewayHealth as Health } from './helpers/gateway-process.ts';

function pidFile(c: Cluster): number {
  return Number(readFileSync(path.join(c.dir, 'data', 'gateway.pid'), 'utf8'));
}

describe('gateway reload through the controller', { timeout: 180_000 }, () => {
  test('cutover reload and reload --master under load: 0 failed; kill -9 of the master: reported', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 2 });
    const load = c.startLoad({ concurrency: 6, pauseMs: 2 });
    await load.more(10, 'load running before the reloads');

    // Worker generation reload (CLI -> control API -> gateway admin API), twice.
    const first = await c.gatewayAdmin<Health>('/healthz');
    for (let i = 0; i < 2; i++) {
      const r = await c.cli(['reload']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /gateway reloaded: generation \d+/);
    }
    const afterReload = await c.gatewayAdmin<Health>('/healthz');
    assert.equal(afterReload.generation, first.generation + 2);
    assert.equal(afterReload.pid, first.pid);

    // Master re-exec: the controller follows the new pid (gateway.pid) and keeps monitoring it.
    const m = await c.cli(['reload', '--master', '--json']);
    assert.equal(m.code, 0, m.stderr);
    const newPid = (JSON.parse(m.stdout) as { pid: number }).pid;
    assert.notEqual(newPid, first.pid);
    await c.waitFor(async () => pidFile(c) === newPid, 5000, 'gateway.pid follows the new master');
    await c.waitFor(async () => !alive(first.pid), 40_000, 'old master exited');
    await load.more(10, 'requests served by the new master alone');
    const reloadReport = { ...load.report };
    t.diagnostic(
      `2 reloads + 1 master re-exec via CLI: ${reloadReport.ok}/${reloadReport.sent} ok, ${reloadReport.failed} failed ${reloadReport.failures.slice(0, 5).join(' | ')}`,
    );
    assert.equal(reloadReport.failed, 0, reloadReport.failures.join('\n'));

    // kill -9 of the (adopted) master: its workers keep serving on the socket the controller holds, the
    // controller starts a new master at once, the orphans drain when it serves.
    const failedBefore = load.report.failed;
    const sentBefore = load.report.sent;
    const orphans = (await c.gatewayAdmin<Health>('/healthz')).workerPids;
    assert.ok(orphans.length > 0, 'the master has workers');
    const killedAt = Date.now();
    process.kill(newPid, 'SIGKILL');
    let replacement = 0;
    await c.waitFor(
      async () => {
        const h = await c.gatewayAdmin<Health>('/healthz');
        replacement = h.pid;
        return h.ok && h.pid !== newPid;
      },
      20_000,
      'a new master',
    );
    const readyMs = Date.now() - killedAt;
    await c.waitFor(async () => pidFile(c) === replacement, 5000, 'gateway.pid follows the replacement');
    await c.waitFor(async () => orphans.every((p) => !alive(p)), 40_000, 'orphaned workers drained');
    await load.more(10, 'requests served by the replacement alone');
    const report = await load.stop();
    const killFailed = report.failed - failedBefore;
    t.diagnostic(
      `kill -9 master: replacement ready after ${readyMs} ms; ${killFailed} failed of ${report.sent - sentBefore} requests ${report.failures.slice(0, 5).join(' | ')}`,
    );
    assert.equal(killFailed, 0, `${report.failures.join('\n')}\n${c.gatewayWarnings()}`);
    assert.equal((await c.get('/')).status, 200);

    // Only an admin may reload.
    const anon = await c.api('POST', '/v1/gateway/reload', {}, null);
    assert.equal(anon.status, 401);
    const bad = await c.api('POST', '/v1/gateway/reload', { master: 'yes' });
    assert.equal(bad.status, 400);
  });

  test('systemd socket activation: every gateway master serves the socket passed to the controller as fd 3', async (t) => {
    const c = useCluster(t);
    await c.writeConfig({ replicas: 1 });
    // Like systemd's .socket unit: bound and listening before Cutover starts.
    const { handle } = bindListenHandle('127.0.0.1', c.gatewayPort);
    t.after(() => handle.close());
    const fd = handle.fd as number;
    const bin = path.join(ROOT, 'bin', 'cutover.mjs');
    const up = spawn(
      '/bin/sh',
      ['-c', `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${bin}" up -c "${c.configFile}"`],
      { cwd: c.dir, env: c.env(), detached: true, stdio: ['ignore', 'ignore', 'ignore', fd] },
    );
    t.after(() => {
      try {
        process.kill(-up.pid!, 'SIGKILL');
      } catch {}
    });
    await c.waitFor(async () => (await c.status()).phase === 'Healthy', 20_000, 'healthy');
    assert.equal((await c.get('/')).status, 200);
    const ours = readlinkSync(`/proc/self/fd/${fd}`);
    const master = (await c.gatewayAdmin<Health>('/healthz')).pid;
    assert.equal(readlinkSync(`/proc/${master}/fd/3`), ours, 'the master got our socket as fd 3');
    // A master re-exec passes it on.
    const m = await c.cli(['reload', '--master', '--json']);
    assert.equal(m.code, 0, m.stderr);
    const next = (JSON.parse(m.stdout) as { pid: number }).pid;
    assert.equal(readlinkSync(`/proc/${next}/fd/3`), ours);
    assert.equal((await c.get('/')).status, 200);
  });
});
