/**
 * Prometheus exposition from a real gateway (master + 2 workers) after real traffic: `promtool check
 * metrics` must be clean, and the samples must match the traffic sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceStatus } from '../src/api/status.ts';
import { GatewayClient } from '../src/controller/gateway-client.ts';
import type { RouteTraffic } from '../src/gateway/protocol.ts';
import { renderMetrics } from '../src/metrics/exposition.ts';
import {
  deadPort,
  request,
  roleUpstream,
  service,
  startUpstream,
  table,
  waitFor,
} from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';
import { promtoolCheckMetrics } from './helpers/prometheus.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of a 0.0.4 text exposition (enough for the label values we emit). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

const canaryStatus = (weight: number): ServiceStatus => ({
  name: 'web',
  phase: 'Progressing',
  strategy: 'canary',
  replicas: 2,
  route: { host: '*', pathPrefix: '/' },
  stable: { revision: 1, version: 'v1' },
  roles: {
    stable: { revision: 1, version: 'v1', ready: 1, instances: 1 },
    canary: { revision: 2, version: 'v2', ready: 1, instances: 1 },
  },
  weights: { stable: 100 - weight, canary: weight },
  instances: [
    { id: 's1', revision: 1, version: 'v1', port: 1, state: 'ready', restarts: 0 },
    { id: 'c1', revision: 2, version: 'v2', port: 2, state: 'ready', restarts: 3 },
    { id: 'c2', revision: 2, version: 'v2', port: 3, state: 'starting', restarts: 0 },
  ],
});

test('exposition of a real gateway after traffic: promtool clean, samples match the traffic', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const stable = await startUpstream(t, 'stable', (req, res) => {
    res.statusCode = req.url === '/err' ? 503 : 200;
    res.end('s');
  });
  const canary = await startUpstream(t, 'canary');
  const dead = await deadPort();
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 2, ejectAfterFailures: 1 }));
  const traffic: RouteTraffic = {
    canaryWeight: 0,
    rules: [{ match: { header: { 'x-canary': { exact: '1' } } }, to: 'canary' }],
    mirror: { percent: 100, maxBodyBytes: 1024, pathPrefix: '/m' },
  };
  const ups = [roleUpstream('s1', stable.port, 'stable', 1), roleUpstream('c1', canary.port, 'canary', 2)];
  // `api`: one dead instance next to a live one (connect errors, ejections, retries).
  const apiUps = [roleUpstream('a1', stable.port, 'stable', 7), roleUpstream('a0', dead, 'stable', 7)];
  const routes = table(1, service('web', ups, { traffic }), service('api', apiUps, { pathPrefix: '/api' }));
  assert.equal((await admin(gw.admin, 'PUT', '/routes', routes)).status, 200);
  const N_STABLE = 60;
  const N_CANARY = 30;
  for (let i = 0; i < N_STABLE; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => request(gw.port, k === 0 ? '/err' : '/')));
  }
  for (let i = 0; i < N_CANARY; i++) {
    const r = await request(gw.port, '/', { method: i % 2 ? 'POST' : 'GET', headers: { 'x-canary': '1' } });
    assert.equal(r.status, 200);
  }
  for (let i = 0; i < 5; i++) await request(gw.port, '/m');
  for (let i = 0; i < 20; i++) assert.equal((await request(gw.port, '/api')).status, 200);
  await waitFor(() => canary.requests.length >= N_CANARY + 5, 5000, 'mirror copies');

  const client = new GatewayClient(gw.admin);
  let stats = await client.stats();
  await waitFor(
    async () => {
      stats = await client.stats();
      return (stats.services.web?.revisions['2']?.mirror.status['2xx'] ?? 0) === 5;
    },
    5000,
    'mirror responses counted',
  );
  const text = await renderMetrics({ services: [canaryStatus(25)], gateway: stats });
  const check = await promtoolCheckMetrics(text);
  assert.equal(check.code, 0, `promtool check metrics:\n${check.output}`);
  assert.equal(check.output.trim(), '', 'no lint findings');

  const s = parse(text);
  const stableBase = { service: 'web', revision: '1', version: 'v1', role: 'stable' };
  assert.equal(total(s, 'cutover_requests_total', stableBase), N_STABLE + 5);
  assert.equal(total(s, 'cutover_requests_total', { ...stableBase, code_class: '5xx' }), N_STABLE / 10);
  const canaryBase = { service: 'web', revision: '2', version: 'v2', role: 'canary' };
  assert.equal(
    total(s, 'cutover_requests_total', { ...canaryBase, method: 'POST', code_class: '2xx' }),
    N_CANARY / 2,
  );
  assert.equal(
    total(s, 'cutover_requests_total', { ...canaryBase, method: 'GET', code_class: '2xx' }),
    N_CANARY / 2,
  );
  assert.equal(total(s, 'cutover_request_duration_seconds_count', canaryBase), N_CANARY);
  assert.equal(total(s, 'cutover_request_duration_seconds_bucket', { ...canaryBase, le: '+Inf' }), N_CANARY);
  assert.ok(total(s, 'cutover_request_duration_seconds_sum', canaryBase) > 0);
  // Buckets are cumulative: non-decreasing in le order.
  const buckets = s.filter(
    (x) => x.name === 'cutover_request_duration_seconds_bucket' && x.labels.revision === '2',
  );
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
  // Each worker that served /api tried a0 once (round robin), ejected it and retried on a1.
  const connectErrors = total(s, 'cutover_upstream_errors_total', { service: 'api', kind: 'connect' });
  assert.ok(connectErrors >= 1 && connectErrors <= 2, `connect errors ${connectErrors}`);
  assert.equal(total(s, 'cutover_retries_total', { service: 'api' }), connectErrors);
  assert.equal(total(s, 'cutover_retries_total', { service: 'web' }), 0);
  assert.equal(total(s, 'cutover_ejections_total', { service: 'api', instance: 'a0' }), connectErrors);
  assert.equal(total(s, 'cutover_requests_total', { service: 'api', revision: '7', code_class: '2xx' }), 20);
  assert.equal(total(s, 'cutover_upstream_errors_total', { service: 'web' }), 0);
  assert.equal(total(s, 'cutover_inflight_requests', { instance: 's1' }), 0);
  assert.equal(total(s, 'cutover_mirror_requests_total', { revision: '2', code_class: '2xx' }), 5);
  assert.equal(total(s, 'cutover_canary_weight_percent', { service: 'web' }), 25);
  assert.equal(total(s, 'cutover_rollout_phase', { service: 'web', phase: 'Progressing' }), 1);
  assert.equal(total(s, 'cutover_rollout_phase', { service: 'web' }), 1, 'exactly one phase is 1');
  assert.equal(total(s, 'cutover_revision_info', { revision: '2', version: 'v2', role: 'canary' }), 1);
  assert.equal(total(s, 'cutover_instance_restarts_total', { instance: 'c1', revision: '2' }), 3);
  assert.equal(total(s, 'cutover_instances', { revision: '2', state: 'ready' }), 1);
  assert.equal(total(s, 'cutover_instances', { revision: '2', state: 'starting' }), 1);
  assert.equal(total(s, 'cutover_gateway_up'), 1);
  assert.equal(total(s, 'cutover_gateway_workers'), 2);
  assert.equal(total(s, 'cutover_build_info'), 1);
  for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE cutover_'))) {
    const [, , name, type] = line.split(' ');
    if (type === 'counter') assert.match(name, /_total$/, `${name}: counters end in _total`);
  }
});

test('exposition without a gateway: controller metrics only, cutover_gateway_up 0, promtool clean', async () => {
  const text = await renderMetrics({ services: [canaryStatus(0)], gateway: null });
  const check = await promtoolCheckMetrics(text);
  assert.equal(check.code, 0, check.output);
  const s = parse(text);
  assert.equal(total(s, 'cutover_gateway_up'), 0);
  assert.equal(total(s, 'cutover_requests_total'), 0);
  assert.equal(total(s, 'cutover_rollout_phase', { phase: 'Progressing' }), 1);
});
