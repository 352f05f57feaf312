import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../src/runtime/ports.ts';
import { Cluster } from './helpers/cluster.ts';
import { startPrometheus } from './helpers/prometheus.ts';

test('a Prometheus analysis metric, queried from a real Prometheus scraping Cutover, aborts a bad canary', {
  timeout: 120_000,
}, async (t) => {
  // Given a real Prometheus scraping the controller's /metrics every second
  const c = new Cluster();
  c.controlPort = await freePort();
  const prom = await startPrometheus({
    targets: [
      { target: `127.0.0.1:${c.controlPort}`, bearerTokenFile: path.join(c.dir, 'data', 'admin.token') },
    ],
  });
  t.after(async () => {
    await Promise.race([c.stop(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    c.destroy();
    await prom.stop();
  });
  // and a canary judged by a PromQL error ratio of the canary revision
  const query =
    'sum(rate(cutover_requests_total{service="web",revision="{{revision}}",code_class="5xx"}[5s])) / sum(rate(cutover_requests_total{service="web",revision="{{revision}}"}[5s]))';
  await c.up({
    replicas: 2,
    strategy:
      '{ type: canary, canaryReplicas: 1, steps: [ { setWeight: 50 }, { pause: { duration: 60s } } ] }',
    serviceYaml: `    analysis:
      interval: 1s
      initialDelay: 3s
      failureLimit: 1
      metrics:
        - name: prom-errors
          prometheus: { address: ${prom.url}, query: '${query}', max: 0.05 }
`,
  });
  await prom.waitFor('up{job="cutover"}', (r) => r.some((x) => x.value[1] === '1'), 20_000);
  const load = c.startLoad({ concurrency: 6 });

  // When a revision failing 30% of its requests is deployed
  const d = await c.cli(['deploy', 'web', '--version', 'v2', '--set', 'run.env.ERROR_RATE=0.3']);
  assert.equal(d.code, 0, d.stderr);

  // Then the Prometheus metric fails the analysis and the canary is aborted
  await c.waitFor(async () => (await c.status()).rollout === undefined, 60_000, 'rollout aborted');
  await load.stop();
  const s = await c.status();
  assert.equal(s.phase, 'Degraded');
  assert.equal(s.stable.revision, 1);
  const ev = await c.cli(['events', 'web', '--json']);
  const failed = (JSON.parse(ev.stdout) as { events: Array<{ type: string; message: string }> }).events.find(
    (e) => e.type === 'AnalysisFailed',
  );
  assert.ok(failed, ev.stdout);
  assert.match(failed.message, /prom-errors/);
});
