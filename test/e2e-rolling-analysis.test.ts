import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useCluster } from './helpers/cluster.ts';

const ANALYSIS = `    analysis:
      interval: 1s
      minRequests: 50
      metrics:
        - { name: errors, errorRate: { max: 0.02 } }
`;

describe('rolling update judged by analysis, end to end', { timeout: 150_000 }, () => {
  test('a revision with 5% errors is rolled back after the first batch; no bad instance is left', async (t) => {
    // Given v1 on four instances under steady load, rolling one at a time with analysis
    const c = useCluster(t);
    await c.up({
      replicas: 4,
      strategy: '{ type: rolling, maxSurge: 1, maxUnavailable: 0 }',
      serviceYaml: ANALYSIS,
    });
    const load = c.startLoad({ concurrency: 8 });
    await load.more(10, 'load running before the deploy');

    // When a revision that fails 5% of its requests is deployed
    const d = await c.cli(['deploy', 'web', '--version', 'v2', '--set', 'run.env.ERROR_RATE=0.05']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(
      async () => {
        const s = await c.status();
        return (
          s.rollout === undefined && s.instances.length === 4 && s.instances.every((i) => i.version === 'v1')
        );
      },
      90_000,
      'rolled back to four v1 instances',
    );
    const report = await load.stop();

    // Then the analysis took it back after one batch, and only the bad instance's own errors were seen
    const s = await c.status();
    assert.equal(s.stable.revision, 1);
    assert.ok(s.instances.length > 0);
    assert.ok(
      s.instances.every((i) => i.revision === 1),
      JSON.stringify(s.instances),
    );
    const ev = await c.cli(['events', 'web', '--json']);
    const events = (JSON.parse(ev.stdout) as { events: Array<{ type: string; message: string }> }).events;
    assert.ok(events.length > 0);
    const failed = events.find((e) => e.type === 'AnalysisFailed');
    assert.ok(failed, events.map((e) => e.type).join(','));
    assert.match(failed.message, /analysis failed: errors/);
    assert.ok(events.some((e) => e.type === 'RollbackStarted'));
    const v2Started = events.filter((e) => e.type === 'InstanceStarted' && /revision 2|v2/.test(e.message));
    t.diagnostic(`v2 instances started: ${v2Started.length}; failed ${report.failed} of ${report.sent}`);
    // One bad instance of five serving at most, 5% of its share: well under 5% of all requests.
    assert.ok(report.failed < report.sent * 0.05, `failed ${report.failed} of ${report.sent}`);
    const after = await c.get('/');
    assert.equal(after.version, 'v1');
  });

  for (const judged of [true, false]) {
    test(`a healthy rolling release completes ${judged ? 'with' : 'without'} analysis, no request failing`, async (t) => {
      const c = useCluster(t);
      await c.up({
        replicas: 4,
        strategy: '{ type: rolling, maxSurge: 1, maxUnavailable: 0 }',
        serviceYaml: judged ? ANALYSIS : '',
      });
      const load = c.startLoad({ concurrency: 8 });
      await load.more(10, 'load running before the deploy');
      const started = Date.now();
      const d = await c.cli(['deploy', 'web', '--version', 'v2', '--wait', '--timeout', '90s']);
      const elapsed = Date.now() - started;
      const report = await load.stop();
      assert.equal(d.code, 0, `${d.stdout} ${d.stderr}`);
      assert.equal(report.failed, 0, report.failures.join(' | '));
      const s = await c.status();
      assert.equal(s.stable.revision, 2);
      assert.ok(s.instances.length > 0);
      assert.ok(
        s.instances.every((i) => i.version === 'v2'),
        JSON.stringify(s.instances),
      );
      t.diagnostic(`rolling release ${judged ? 'with' : 'without'} analysis: ${elapsed} ms`);
    });
  }
});
