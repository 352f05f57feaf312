import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allOnVersion, type Cluster, runningInstanceIds, useCluster } from './helpers/cluster.ts';

async function killController(c: Cluster): Promise<void> {
  const pid = c.upPid();
  assert.ok(pid);
  process.kill(pid, 'SIGKILL');
  await c.upExit;
}

/** Every running instance process belongs to an instance the controller knows, and vice versa. */
async function assertNoDuplicates(c: Cluster, replicas: number): Promise<void> {
  const s = await c.status();
  const known = new Set(s.instances.map((i) => i.id));
  assert.equal(known.size, replicas, `instances: ${[...known].join(', ')}`);
  await c.waitFor(
    async () => [...runningInstanceIds(c.id)].sort().join() === [...known].sort().join(),
    10_000,
    'running processes match the known instances',
  );
}

describe('controller crash and restart', { timeout: 150_000 }, () => {
  test('kill -9 mid-rolling: gateway keeps serving, restart re-adopts instances and finishes the rollout, 0 failed', async (t) => {
    // Given a rolling deploy of v2 under load, one new instance ready
    const c = useCluster(t);
    await c.up({
      replicas: 4,
      strategy: '{ type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 20s }',
    });
    const load = c.startLoad({ concurrency: 6 });
    await c.cli(['deploy', 'web', '--version', 'v2']);
    await c.waitFor(
      async () => (await c.status()).instances.some((i) => i.version === 'v2' && i.state === 'ready'),
      20_000,
      'first v2 instance ready',
    );
    const before = (await c.status()).instances.filter((i) => i.state !== 'draining').map((i) => i.id);
    assert.ok(before.length > 0, 'no instance before the kill');

    // When the controller is killed and, after the gateway served on without it for a while, started again
    await killController(c);
    await load.more(50, 'requests served without a controller');
    await c.restart();

    // Then the instances it had were adopted (not restarted) and the rollout completes
    const adopted = (await c.status()).instances.map((i) => i.id);
    for (const id of before) {
      if (!adopted.includes(id)) {
        // an instance may have been drained legitimately just before the kill
        assert.ok(!runningInstanceIds(c.id).has(id), `instance ${id} runs but was not adopted`);
      }
    }
    await c.waitFor(
      async () => {
        const s = await c.status();
        return s.stable.revision === 2 && !s.rollout && allOnVersion(s, 'v2');
      },
      40_000,
      'rollout finished after restart',
    );
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.ok(report.ok >= 50, `load actually ran (${report.ok} ok)`);
    await assertNoDuplicates(c, 4);
  });

  test('kill -9 mid-blue-green before and after promote; kill -9 mid-canary: every rollout resumes, 0 failed', async (t) => {
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      strategy: '{ type: blueGreen, scaleDownDelay: 3s, preview: { header: "X-Cutover-Preview: true" } }',
    });
    const load = c.startLoad({ concurrency: 4 });
    await c.cli(['deploy', 'web', '--version', 'v2']);
    await c.waitFor(async () => (await c.status()).phase === 'Paused', 20_000, 'preview ready');
    // before promote
    await killController(c);
    await c.restart();
    await c.waitFor(async () => (await c.status()).phase === 'Paused', 20_000, 'still waiting for promote');
    assert.equal((await c.get('/', { 'x-cutover-preview': 'true' })).version, 'v2');
    assert.equal((await c.get('/')).version, 'v1');
    const p = await c.cli(['promote', 'web']);
    assert.equal(p.code, 0, p.stderr);
    await c.waitFor(async () => (await c.status()).rollout?.switchedAt !== undefined, 10_000, 'switched');
    // after promote, within scaleDownDelay
    await killController(c);
    await c.restart();
    await c.waitFor(
      async () => {
        const s = await c.status();
        return s.stable.revision === 2 && !s.rollout && allOnVersion(s, 'v2');
      },
      30_000,
      'blue-green finished after restart',
    );
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    await assertNoDuplicates(c, 2);
  });

  test('kill -9 mid-canary at a pause: the canary resumes at its step after restart', async (t) => {
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      strategy: '{ type: canary, steps: [ { setWeight: 50 }, { pause: {} }, { setWeight: 100 } ] }',
    });
    const load = c.startLoad({ concurrency: 4 });
    await c.cli(['deploy', 'web', '--version', 'v2']);
    await c.waitFor(async () => (await c.status()).phase === 'Paused', 20_000, 'paused at 50%');
    await killController(c);
    await c.restart();
    const s = await c.status();
    assert.deepEqual(s.weights, { stable: 50, canary: 50 });
    assert.equal(s.step?.index, 2);
    const p = await c.cli(['promote', 'web']);
    assert.equal(p.code, 0, p.stderr);
    await c.waitFor(async () => (await c.status()).stable.revision === 2, 20_000, 'promoted');
    await c.waitFor(async () => allOnVersion(await c.status(), 'v2'), 20_000, 'old gone');
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    await assertNoDuplicates(c, 2);
  });

  test('up --keep-running leaves the data plane serving; the next up adopts the same processes', async (t) => {
    // Given cutover up --keep-running with 2 instances under load
    const c = useCluster(t);
    await c.up({ replicas: 2, upArgs: ['--keep-running'] });
    const s0 = await c.status();
    const pids0 = s0.instances.map((i) => `${i.id}:${i.pid}`).sort();
    const load = c.startLoad({ concurrency: 4 });
    // When the controller gets SIGTERM
    assert.equal(await c.stop(), 0);
    await load.more(50, 'requests served after the controller exited');
    // Then the instances still run (and the gateway still serves: the load sees no failure)
    assert.equal(runningInstanceIds(c.id).size, 2, 'instances still run without a controller');
    // And the next up adopts the very same processes
    await c.restart();
    // (adoption probes each instance before calling it ready: wait for that, not for the API)
    await c.waitInstancesReady(2);
    const s1 = await c.status();
    assert.deepEqual(s1.instances.map((i) => `${i.id}:${i.pid}`).sort(), pids0, 'same instances, same pids');
    assert.ok(
      s1.instances.length > 0 && s1.instances.every((i) => i.state === 'ready'),
      JSON.stringify(s1.instances),
    );
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
  });
});
