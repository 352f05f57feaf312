import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { allOnVersion, useCluster } from './helpers/cluster.ts';
import { webhookReceiver } from './helpers/webhook.ts';

const ANALYSIS = `    analysis:
      interval: 1s
      minRequests: 50
      metrics:
        - name: errors
          errorRate: { max: 0.01 }
        - name: vs-stable
          errorRate: { maxIncreaseOver: stable, by: 0.005 }
        - name: latency
          latency: { percentile: 99, max: 800ms }
`;

describe('analysis, hooks and notifications end to end', { timeout: 150_000 }, () => {
  test('a canary with 5% errors is detected and taken back within seconds; webhooks say so', async (t) => {
    // Given v1 under steady load, a canary strategy with analysis, and a webhook
    const hook = await webhookReceiver(t);
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      strategy:
        '{ type: canary, canaryReplicas: 1, steps: [ { setWeight: 20 }, { pause: { duration: 60s } }, { setWeight: 100 } ] }',
      serviceYaml: ANALYSIS,
      topYaml: `notifications:\n  - url: ${hook.url}\n    retries: 1\n`,
    });
    const load = c.startLoad({ concurrency: 8 });
    await load.more(10, 'load running before the deploy');

    // When a revision that fails 5% of its requests is deployed
    const started = Date.now();
    const d = await c.cli(['deploy', 'web', '--version', 'v2', '--set', 'run.env.ERROR_RATE=0.05']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(async () => (await c.status()).rollout === undefined, 60_000, 'rollout ended');
    const elapsed = Date.now() - started;
    const s = await c.status();
    const report = await load.stop();

    // Then it was aborted by the analysis, stable serves everything again, and the webhook heard it
    assert.equal(s.phase, 'Degraded');
    assert.equal(s.stable.revision, 1);
    assert.match(s.lastRollout?.phase ?? '', /Failed/);
    const ev = await c.cli(['events', 'web', '--json']);
    const types = (JSON.parse(ev.stdout) as { events: Array<{ type: string; message: string }> }).events;
    const failed = types.find((e) => e.type === 'AnalysisFailed');
    assert.ok(failed, types.map((e) => e.type).join(','));
    assert.match(failed.message, /analysis failed: (errors|vs-stable)/);
    // Taken back by the analysis during the 60 s pause, not after it: no wall-clock limit needed.
    assert.ok(
      !types.some((e) => e.type === 'StepCompleted' && /pause/.test(e.message)),
      `the pause step completed: ${types.map((e) => `${e.type}: ${e.message}`).join(' | ')}`,
    );
    t.diagnostic(`taken back after ${elapsed} ms`);
    // Users saw only the canary's own 5% of its share, briefly
    assert.ok(report.failed < report.sent * 0.05, `failed ${report.failed} of ${report.sent}`);
    const after = await c.get('/');
    assert.equal(after.version, 'v1');
    await c.waitFor(
      async () => hook.got.some((g) => g.event === 'analysis-failed'),
      10_000,
      'webhook analysis-failed',
    );
    assert.ok(hook.got.some((g) => g.event === 'rollout-started' && g.revision === 2));
    assert.ok(hook.got.some((g) => g.event === 'aborted'));
  });

  test('a healthy canary passes its analysis step; hooks run in order with the target URL', async (t) => {
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      strategy:
        '{ type: canary, canaryReplicas: 1, steps: [ { setWeight: 50 }, { analysis: { duration: 4s } }, { setWeight: 100 } ] }',
      serviceYaml: `${ANALYSIS}    hooks:
      preRollout: { command: "touch migrated-\${REVISION}", timeout: 10s }
      prePromotion: { http: { url: "\${TARGET_URL}/ready", expectStatus: 200 }, timeout: 5s }
      postPromotion: { command: "echo done > promoted-\${VERSION}", timeout: 10s }
`,
    });
    const load = c.startLoad({ concurrency: 6 });
    const d = await c.cli(['deploy', 'web', '--version', 'v2', '--wait', '--timeout', '60s']);
    const report = await load.stop();
    assert.equal(d.code, 0, `${d.stdout} ${d.stderr}`);
    assert.equal(report.failed, 0, report.failures.join(' | '));
    const cwd = path.dirname(c.configFile);
    assert.ok(existsSync(path.join(cwd, 'migrated-2')), 'preRollout ran');
    await c.waitFor(async () => existsSync(path.join(cwd, 'promoted-v2')), 10_000, 'postPromotion ran');
    const ev = await c.cli(['events', 'web']);
    assert.match(ev.stdout, /HookSucceeded\s+preRollout hook succeeded/);
    assert.match(ev.stdout, /HookSucceeded\s+prePromotion hook succeeded/);
    assert.match(ev.stdout, /StepCompleted\s+step 2\/3 \(analysis 4s\) done/);
  });

  test('a failing preRollout hook aborts before any new instance starts, with its output', async (t) => {
    const c = useCluster(t);
    await c.up({
      replicas: 1,
      strategy: '{ type: canary, steps: [ { setWeight: 50 } ] }',
      serviceYaml: `    hooks:\n      preRollout: { command: "echo migration broke >&2; exit 3", timeout: 10s }\n`,
    });
    const d = await c.cli(['deploy', 'web', '--version', 'v2', '--wait', '--timeout', '30s']);
    assert.equal(d.code, 1, d.stdout);
    const s = await c.status();
    assert.ok(allOnVersion(s, 'v1'), JSON.stringify(s.instances));
    const ev = await c.cli(['events', 'web']);
    assert.match(ev.stdout, /HookFailed\s+preRollout hook failed: exit code 3/);
    assert.match(ev.stdout, /migration broke/);
  });
});
