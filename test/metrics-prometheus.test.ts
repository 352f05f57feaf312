/**
 * End to end: a real `cutover up` (controller + gateway + example service), real traffic, its `/metrics`
 * on the control listener (token-protected, promtool clean), scraped every second by a real Prometheus
 * server and queried through Prometheus' HTTP API.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { Cluster } from './helpers/cluster.ts';
import { promtoolCheckMetrics, startPrometheus } from './helpers/prometheus.ts';

function getMetrics(
  port: number,
  token: string | undefined,
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', headers, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }),
        );
      })
      .on('error', reject);
  });
}

test('a real Prometheus scrapes /metrics of a running cutover and answers queries on it', {
  timeout: 120_000,
}, async (t) => {
  const c = new Cluster();
  t.after(async () => {
    await Promise.race([c.stop(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    c.destroy();
  });
  await c.up({ replicas: 2, gatewayWorkers: 2 });
  const N = 50;
  for (let i = 0; i < N; i++) assert.equal((await c.get('/')).status, 200);

  assert.equal((await getMetrics(c.controlPort, undefined)).status, 401, '/metrics needs a token');
  const direct = await getMetrics(c.controlPort, c.adminToken());
  assert.equal(direct.status, 200);
  assert.match(direct.type, /^text\/plain; version=0\.0\.4/);
  const check = await promtoolCheckMetrics(direct.text);
  assert.equal(check.code, 0, `promtool check metrics:\n${check.output}`);
  assert.match(direct.text, /^cutover_rollout_phase\{service="web",phase="Healthy"\} 1$/m);
  assert.match(direct.text, /^cutover_instances\{service="web",revision="1",state="ready"\} 2$/m);

  const prom = await startPrometheus({
    targets: [
      {
        target: `127.0.0.1:${c.controlPort}`,
        bearerTokenFile: path.join(c.dir, 'data', 'admin.token'),
      },
    ],
    scrapeInterval: '1s',
  });
  t.after(() => prom.stop());

  await prom.waitFor('up{job="cutover"}', (r) => r.length === 1 && r[0].value[1] === '1');
  const requests = await prom.waitFor(
    'sum by (service, role, code_class) (cutover_requests_total{service="web"})',
    (r) => r.some((x) => x.metric.code_class === '2xx' && Number(x.value[1]) >= N),
  );
  assert.deepEqual(
    requests.filter((x) => Number(x.value[1]) > 0).map((x) => x.metric),
    [{ service: 'web', role: 'stable', code_class: '2xx' }],
  );
  const count = await prom.query('sum(cutover_request_duration_seconds_count{service="web"})');
  assert.ok(Number(count[0].value[1]) >= N);
  const phase = await prom.query('cutover_rollout_phase{service="web"} == 1');
  assert.deepEqual(
    phase.map((x) => x.metric.phase),
    ['Healthy'],
  );
  // More traffic shows up in a later scrape (counters grow, rate() works over them).
  for (let i = 0; i < N; i++) await c.get('/');
  await prom.waitFor(
    'sum(cutover_requests_total{service="web",code_class="2xx"})',
    (r) => Number(r[0]?.value[1]) >= 2 * N,
  );
  const p99 = await prom.query(
    'histogram_quantile(0.99, sum by (le) (rate(cutover_request_duration_seconds_bucket{service="web"}[30s])))',
  );
  assert.equal(p99.length, 1);
  assert.ok(Number(p99[0].value[1]) > 0 && Number(p99[0].value[1]) <= 30, `p99 ${p99[0].value[1]}`);
});
