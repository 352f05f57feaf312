import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Cluster, ROOT, useCluster } from './helpers/cluster.ts';

describe('cli', { timeout: 60_000 }, () => {
  test('validate and up reject a bad config with every problem, path and line, and start nothing', async (t) => {
    const c = new Cluster();
    t.after(() => c.destroy());
    writeFileSync(
      c.configFile,
      `gateway:
  listen: 127.0.0.1:99999
services:
  web:
    version: v1
    replicas: -1
    run: { command: "" }
    strategy: { type: rolling, maxSurge: 0, maxUnavailable: 0, progresDeadline: 10s }
`,
    );
    const v = await c.cli(['validate', '-c', c.configFile]);
    assert.equal(v.code, 2);
    assert.match(v.stderr, /cutover\.yaml:2: gateway\.listen: .*port/);
    assert.match(v.stderr, /cutover\.yaml:6: services\.web\.replicas: /);
    assert.match(v.stderr, /services\.web\.run\.command: /);
    assert.match(v.stderr, /services\.web\.strategy\.progresDeadline: .*did you mean "progressDeadline"/);
    assert.match(v.stderr, /maxSurge.*maxUnavailable|maxUnavailable.*maxSurge/);
    const up = await c.cli(['up', '-c', c.configFile]);
    assert.equal(up.code, 2);
    assert.match(up.stderr, /services\.web\.replicas/);
  });

  test('usage errors exit 2 with help; an unreachable controller exits 3', async (t) => {
    const c = new Cluster();
    t.after(() => c.destroy());
    await c.writeConfig();
    const noVersion = await c.cli(['deploy', 'web', '-c', c.configFile]);
    assert.equal(noVersion.code, 2);
    assert.match(noVersion.stderr, /--version is required/);
    const bogus = await c.cli(['deploy', 'web', '--versoin', 'v2', '-c', c.configFile]);
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /Unknown option '--versoin'/);
    const unknown = await c.cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    const down = await c.cli(['status', '-c', c.configFile]);
    assert.equal(down.code, 3);
    assert.match(down.stderr, /cannot reach the Cutover controller/);
    for (const cmd of ['up', 'deploy', 'status', 'history', 'undo', 'logs', 'events', 'validate']) {
      const h = await c.cli([cmd, '--help']);
      assert.equal(h.code, 0, cmd);
      assert.match(h.stdout, new RegExp(`Usage: cutover ${cmd}`));
    }
  });
});

describe('cli duration flags', { timeout: 60_000 }, () => {
  test('duration flags accept every duration the config accepts', async (t) => {
    const c = new Cluster();
    t.after(() => c.destroy());
    await c.writeConfig();
    // Accepted durations get past argument checking: the next stop is the (absent) controller.
    for (const d of ['1m30s', '1h2m3s500ms', '1.5s']) {
      const r = await c.cli([
        'deploy',
        'web',
        '--version',
        'v2',
        '--wait',
        '--timeout',
        d,
        '-c',
        c.configFile,
      ]);
      assert.equal(r.code, 3, `${d}: ${r.stderr}`);
    }
    for (const d of ['90', '1m30', '30s1m']) {
      const r = await c.cli(['deploy', 'web', '--version', 'v2', '--timeout', d, '-c', c.configFile]);
      assert.equal(r.code, 2, `${d}: ${r.stderr}`);
      assert.match(r.stderr, /--timeout: expected a duration like 30s or 10m/);
    }
  });
});

describe('cli follows the status stream', { timeout: 120_000 }, () => {
  test('status --watch shows a deploy as it happens and exits 3 when the controller goes away', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    const watch = spawn(
      process.execPath,
      [path.join(ROOT, 'bin', 'cutover.mjs'), 'status', 'web', '--watch', '--json'],
      {
        cwd: c.dir,
        env: c.env(),
      },
    );
    t.after(() => watch.kill('SIGKILL'));
    let out = '';
    let err = '';
    watch.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    watch.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => watch.on('exit', resolve));
    const stableRevision = /"stable": \{\s*"revision": (\d+)/g;
    const stables = () => [...out.matchAll(stableRevision)].map((m) => Number(m[1]));
    await c.waitFor(async () => stables().includes(1), 20_000, 'watch shows revision 1');
    const d = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /revision 2 of web is stable/);
    await c.waitFor(async () => stables().includes(2), 20_000, 'watch shows revision 2 stable');
    assert.ok(out.includes('"phase": "Progressing"'), 'watch showed the rollout in progress');
    await c.stop();
    assert.equal(await exited, 3, err);
    assert.match(err, /cannot reach the Cutover controller/);
  });
});
