/** Gateway workers run from the master's one-file JavaScript bundle of their modules, and serve from it. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { request, service, startUpstream, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, gatewayHealth, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

test('every worker is forked from the bundle (worker.mjs under node_modules/.cache) and proxies', async (t) => {
  const up = await startUpstream(t, 'web');
  const gw = await spawnGateway(t, settingsIn(tempDir(t), { workers: 2 }));
  assert.equal(
    (await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])))).status,
    200,
  );
  const { workerPids } = await gatewayHealth(gw.admin);
  assert.equal(workerPids.length, 2);
  for (const pid of workerPids) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const script = argv.slice(1).find((a) => !a.startsWith('-')) ?? '';
    assert.match(script, /node_modules\/\.cache\/cutover-gateway\/[0-9a-f]{16}\/worker\.mjs$/);
  }
  const r = await request(gw.port, '/');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok web');
  assert.doesNotMatch(gw.stderr(), /ExperimentalWarning/);
});
