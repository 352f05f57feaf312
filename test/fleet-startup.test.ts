import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { freePort } from '../src/runtime/ports.ts';
import { markedPids, useCluster } from './helpers/cluster.ts';

test('cutover up with no etcd reachable refuses in one line naming every endpoint, and starts nothing', async (t) => {
  // Given a config whose etcd endpoints nobody listens on
  const c = useCluster(t);
  const [a, b] = [await freePort(), await freePort()];
  await c.writeConfig({ replicas: 1 });
  const base = readFileSync(c.configFile, 'utf8');
  writeFileSync(
    c.configFile,
    `cluster:\n  etcd: { endpoints: [http://127.0.0.1:${a}, http://127.0.0.1:${b}], dialTimeout: 500ms }\n  host: web-1\n${base}`,
  );

  // When cutover up starts
  const r = await c.cli(['up', '-c', c.configFile]);

  // Then it exits 1 with one line naming both endpoints, and no gateway or instance was started
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^cutover up: cluster\.etcd: etcd unreachable: /);
  assert.ok(lines[0].includes(`127.0.0.1:${a}`) && lines[0].includes(`127.0.0.1:${b}`), lines[0]);
  assert.deepEqual(markedPids(c.id), []);
});
