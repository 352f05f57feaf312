import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Revision } from '../src/core/model.ts';
import { useCluster } from './helpers/cluster.ts';
import { webhookReceiver } from './helpers/webhook.ts';

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

    // And the history keeps the analysis summary; /metrics counts the run by its verdict
    const h = await c.cli(['history', 'web', '--json']);
    const revisions = (JSON.parse(h.stdout) as { revisions: Revision[] }).revisions;
    const judged = revisions.find((r) => r.number === 2)?.analysis;
    assert.ok(judged, h.stdout);
    assert.equal(judged.verdict, 'Failed');
    assert.ok(judged.timeToVerdictMs !== undefined && judged.timeToVerdictMs > 0);
    assert.ok(judged.metrics.length > 0);
    assert.ok(
      judged.metrics.every((m) => m.samples > 0),
      JSON.stringify(judged.metrics),
    );
    assert.equal(judged.metrics[0].status, 'Fail');
    const table = await c.cli(['history', 'web']);
    assert.match(table.stdout, /ANALYSIS/);
    assert.match(table.stdout, /Failed in \d+\.\ds: errors Fail \(\d+\)/);
    const metrics = await c.metricsText();
    assert.match(metrics, /cutover_analysis_runs_total\{service="web",verdict="Failed",drill="false"\} 1/);
    assert.match(
      metrics,
      /cutover_analysis_time_to_verdict_seconds_count\{service="web",verdict="Failed",drill="false"\} 1/,
    );
    t.diagnostic(`time to verdict: ${judged.timeToVerdictMs} ms`);
  });

  test('a latency regression of an onFail: alert metric notifies and the release completes', async (t) => {
    // Given a rolling service whose p99 metric only alerts, and a webhook
    const hook = await webhookReceiver(t);
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      strategy: '{ type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 60s }',
      serviceYaml: `${ANALYSIS}        - { name: p99, latency: { percentile: 99, max: 100ms }, onFail: alert }\n`,
      topYaml: `notifications:\n  - url: ${hook.url}\n    retries: 1\n`,
    });
    const load = c.startLoad({ concurrency: 8 });
    await load.more(10, 'load running before the deploy');

    // When a revision 300 ms slower (but without errors) is deployed
    const d = await c.cli(
      [
        'deploy',
        'web',
        '--version',
        'v2',
        '--set',
        'run.env.EXTRA_LATENCY_MS=300',
        '--wait',
        '--timeout',
        '90s',
      ],
      100_000,
    );
    const report = await load.stop();

    // Then it completed, nothing failed, and the alert was an event and a notification
    assert.equal(d.code, 0, `${d.stdout} ${d.stderr}`);
    assert.equal(report.failed, 0, report.failures.join(' | '));
    const s = await c.status();
    assert.equal(s.stable.revision, 2);
    const ev = await c.cli(['events', 'web', '--json']);
    const events = (JSON.parse(ev.stdout) as { events: Array<{ type: string; message: string }> }).events;
    const alerts = events.filter((e) => e.type === 'AnalysisAlert');
    assert.ok(alerts.length > 0, events.map((e) => e.type).join(','));
    assert.match(alerts[0].message, /analysis alert: p99: .*onFail: alert/);
    assert.ok(!events.some((e) => e.type === 'AnalysisFailed'));
    await c.waitFor(async () => hook.got.some((g) => g.event === 'analysis-alert'), 10_000, 'alert webhook');
    const notice = hook.got.find((g) => g.event === 'analysis-alert');
    assert.equal(notice?.service, 'web');
    assert.equal(notice?.revision, 2);
    const h = await c.cli(['history', 'web', '--json']);
    const summary = (JSON.parse(h.stdout) as { revisions: Revision[] }).revisions.find(
      (r) => r.number === 2,
    )?.analysis;
    assert.ok(summary, h.stdout);
    assert.ok(
      summary.metrics.some((m) => m.name === 'p99' && m.alerted),
      JSON.stringify(summary),
    );
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
