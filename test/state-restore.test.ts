import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type CliResult, type Cluster, runningInstanceIds, useCluster } from './helpers/cluster.ts';
import { damageTable } from './helpers/damage.ts';

/** Overwrites the root page of `table` in the stopped cluster's state.db, as a disk fault would. */
function damagePage(c: Cluster, table: string): void {
  const file = path.join(c.dir, 'data', 'state.db');
  assert.ok(!existsSync(`${file}-wal`), 'the stopped controller checkpointed its WAL');
  damageTable(file, table);
}

/** `cutover up` on a damaged database: exit 1, one line saying what is wrong and what to do. */
function assertRefusedStart(r: CliResult): void {
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s*at /m, 'no stack trace');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^cutover up: state database \S+state\.db is damaged \(.+\); restore the last snapshot with 'cutover state restore' \(taken \d{4}-\d\d-\d\dT[\d:.]+Z\) or move the file away to start empty$/,
  );
}

/** Tokens as listed, without the time of last use (listing them uses the admin token). */
async function tokens(c: Cluster): Promise<unknown[]> {
  const r = await c.cli(['token', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const list = (JSON.parse(r.stdout) as { tokens: Array<Record<string, unknown>> }).tokens;
  assert.ok(list.length > 0);
  return list.map(({ lastUsedAt: _, ...t }) => t);
}

async function history(c: Cluster): Promise<unknown> {
  const r = await c.cli(['history', 'web', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('a damaged state database', { timeout: 150_000 }, () => {
  test('up refuses in one line; state restore brings back history and tokens', async (t) => {
    // Given a cutover up with a finished rollout and a created token
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    const created = await c.cli([
      'token',
      'create',
      '--name',
      'ci',
      '--role',
      'deployer',
      '--service',
      'web',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const deployed = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const historyBefore = await history(c);
    const tokensBefore = await tokens(c);
    assert.ok(tokensBefore.some((x) => (x as { name: string }).name === 'ci'));

    // When it stops and one page of state.db is overwritten
    assert.equal(await c.stop(), 0);
    damagePage(c, 'tokens');

    // Then cutover up exits 1 with one line and no stack trace, and state check agrees
    assertRefusedStart(await c.cli(['up', '-c', c.configFile]));
    const check = await c.cli(['state', 'check']);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, /state\.db is DAMAGED/);

    // When the snapshot is restored
    const restored = await c.cli(['state', 'restore', '--json']);
    assert.equal(restored.code, 0, restored.stderr);
    const r = JSON.parse(restored.stdout) as { restored: boolean; kept: string; damage?: string };
    assert.ok(r.restored && r.damage);
    assert.ok(
      readdirSync(path.join(c.dir, 'data')).includes(path.basename(r.kept)),
      'the damaged file is kept',
    );

    // Then cutover up starts and shows the same history and tokens
    await c.restart();
    assert.deepEqual(await history(c), historyBefore);
    assert.deepEqual(await tokens(c), tokensBefore);
    const again = await c.cli(['state', 'restore']);
    assert.equal(again.code, 1, 'refused while the controller runs');
    assert.match(again.stderr, /the controller is running/);
  });

  test('a running gateway and its instances keep serving while the damaged start-up fails', async (t) => {
    // Given a gateway and 2 instances left running by `up --keep-running`
    const c = useCluster(t);
    await c.up({ replicas: 2, upArgs: ['--keep-running'] });
    const pids = (await c.status()).instances.map((i) => `${i.id}:${i.pid}`).sort();
    assert.equal(await c.stop(), 0);
    assert.equal(runningInstanceIds(c.id).size, 2);
    damagePage(c, 'services');

    // When cutover up starts on the damaged database, under load
    const load = c.startLoad({ concurrency: 2 });
    await c.waitFor(async () => load.report.ok > 0, 10_000, 'load flows before the start-up');
    assertRefusedStart(await c.cli(['up', '-c', c.configFile, '--keep-running']));

    // Then the gateway served every request and the instances still run
    assert.equal((await c.get('/')).status, 200);
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.ok(report.ok > 1);
    assert.equal(runningInstanceIds(c.id).size, 2);

    // And after a restore the next up adopts the very same processes
    const restored = await c.cli(['state', 'restore']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(
      restored.stdout,
      /^restored \S+state\.db from the snapshot taken .*; the damaged file is kept as /,
    );
    await c.restart(['--keep-running']);
    await c.waitFor(async () => (await c.status()).phase === 'Healthy', 20_000, 'healthy after restore');
    assert.deepEqual((await c.status()).instances.map((i) => `${i.id}:${i.pid}`).sort(), pids);
  });
});
