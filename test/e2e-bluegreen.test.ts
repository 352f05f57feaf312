import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allOnVersion, useCluster } from './helpers/cluster.ts';

const BLUE_GREEN = `{ type: blueGreen, scaleDownDelay: 30s, preview: { header: "X-Cutover-Preview: true" }, progressDeadline: 20s }`;

describe('blue-green release end to end', { timeout: 120_000 }, () => {
  test('preview header, promote, abort within scaleDownDelay: 0 failed requests, switch back without starting anything', async (t) => {
    // Given the blue side (v1) under steady load
    const c = useCluster(t);
    await c.up({ replicas: 2, strategy: BLUE_GREEN });
    const load = c.startLoad({ concurrency: 6 });
    const blue = (await c.status()).instances.map((i) => `${i.id}:${i.version}`).sort();

    // When v2 is deployed, the green side starts beside it and waits for promote
    const d = await c.cli(['deploy', 'web', '--version', 'v2']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(
      async () => (await c.status()).rollout?.waitingFor === 'preview ready: waiting for promote',
      20_000,
      'preview ready',
    );
    // Then only preview requests reach green
    for (let i = 0; i < 20; i++) {
      assert.equal((await c.get('/', { 'x-cutover-preview': 'true' })).version, 'v2');
      assert.equal((await c.get('/')).version, 'v1');
    }
    assert.equal(load.report.versions.v2 ?? 0, 0, 'no ordinary request reached the preview');

    // When promoted, every new request goes to green at once; blue stays warm
    const p = await c.cli(['promote', 'web']);
    assert.equal(p.code, 0, p.stderr);
    await c.waitFor(async () => (await c.status()).rollout?.switchedAt !== undefined, 10_000, 'switch');
    await c.waitFor(async () => (await c.get('/')).version === 'v2', 5_000, 'green serving');
    for (let i = 0; i < 20; i++) assert.equal((await c.get('/')).version, 'v2');
    const warm = (await c.status()).instances
      .filter((i) => i.version === 'v1')
      .map((i) => `${i.id}:${i.version}`);
    assert.deepEqual(warm.sort(), blue, 'blue is still running, unrouted');

    // When aborted within scaleDownDelay, traffic switches back to the same blue instances
    const a = await c.cli(['abort', 'web']);
    assert.equal(a.code, 0, a.stderr);
    await c.waitFor(async () => (await c.get('/')).version === 'v1', 5_000, 'blue serving again');
    for (let i = 0; i < 20; i++) assert.equal((await c.get('/')).version, 'v1');
    await c.waitFor(async () => allOnVersion(await c.status(), 'v1'), 20_000, 'green gone');
    const s = await c.status();
    assert.deepEqual(
      s.instances.map((i) => `${i.id}:${i.version}`).sort(),
      blue,
      'no blue instance was restarted',
    );
    assert.equal(s.phase, 'Aborted');
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.ok(
      (report.versions.v2 ?? 0) > 0 && (report.versions.v1 ?? 0) > 0,
      JSON.stringify(report.versions),
    );
  });

  test('abort before promotion tears green down; blue never noticed', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 2, strategy: BLUE_GREEN });
    const load = c.startLoad({ concurrency: 4 });
    await c.cli(['deploy', 'web', '--version', 'v2']);
    await c.waitFor(async () => (await c.status()).phase === 'Paused', 20_000, 'preview ready');
    const a = await c.cli(['abort', 'web']);
    assert.equal(a.code, 0, a.stderr);
    await c.waitFor(async () => allOnVersion(await c.status(), 'v1'), 20_000, 'green gone');
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.deepEqual(Object.keys(report.versions), ['v1']);
  });
});
