import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { allOnVersion, useCluster } from './helpers/cluster.ts';

describe('cutover apply', { timeout: 120_000 }, () => {
  test('an invalid file changes nothing; a valid one applies live changes and rolls out a new revision, 0 failed', async (t) => {
    // Given v1 with 2 replicas under load
    const c = useCluster(t);
    await c.up({ replicas: 2 });
    const load = c.startLoad({ concurrency: 4 });
    const original = readFileSync(c.configFile, 'utf8');

    // When an invalid file is applied, it is rejected with paths and lines, and nothing changes
    writeFileSync(c.configFile, original.replace('replicas: 2', 'replicas: many'));
    const bad = await c.cli(['apply', '-c', c.configFile]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cutover\.yaml:\d+: services\.web\.replicas: /);
    assert.match(bad.stderr, /nothing was applied/);
    assert.equal((await c.status()).instances.length, 2);

    // When a file with more replicas, a new probe path and a new version is shown with --dry-run
    writeFileSync(
      c.configFile,
      original
        .replace('replicas: 2', 'replicas: 3')
        .replace('version: v1', 'version: v2')
        .replace('workers: 2', 'workers: 3'),
    );
    const dry = await c.cli(['apply', '-c', c.configFile, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /~ services\.web\.replicas: 2 -> 3 \(live\)/);
    assert.match(dry.stdout, /~ services\.web\.version: "v1" -> "v2" \(new revision, rolled out\)/);
    assert.match(dry.stdout, /! gateway\.workers: 2 -> 3 \(needs a restart/);
    assert.match(dry.stdout, /dry run: nothing applied/);
    assert.equal((await c.status()).rollout, undefined);

    // Then applying it scales up and rolls v2 out with the strategy
    const ok = await c.cli(['apply', '-c', c.configFile]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /applied/);
    await c.waitFor(
      async () => {
        const s = await c.status();
        return s.stable.revision === 2 && !s.rollout && s.instances.length === 3 && allOnVersion(s, 'v2');
      },
      40_000,
      '3 instances of v2',
    );
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    const ev = await c.cli(['events', 'web']);
    assert.match(ev.stdout, /ConfigApplied/);
  });

  test('the state database passes its integrity check after an abrupt kill, and history survives', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    process.kill(c.upPid()!, 'SIGKILL');
    await c.upExit;
    const db = new DatabaseSync(path.join(c.dir, 'data', 'state.db'));
    const check = db.prepare('PRAGMA integrity_check').get() as Record<string, string>;
    db.close();
    assert.equal(Object.values(check)[0], 'ok');
    await c.restart();
    const h = await c.cli(['history', 'web', '--json']);
    const revs = (JSON.parse(h.stdout) as { revisions: Array<{ number: number; outcome: string }> })
      .revisions;
    assert.deepEqual(
      revs.map((r) => `${r.number}:${r.outcome}`),
      ['1:superseded', '2:stable'],
    );
  });
});
