import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Cluster } from './helpers/cluster.ts';

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
