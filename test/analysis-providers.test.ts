/** Providers against real servers: a real Prometheus scraping a tiny exporter, and a real HTTP endpoint. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { collectMeasurements } from '../src/analysis/providers/measure.ts';
import { queryPrometheus } from '../src/analysis/providers/prometheus.ts';
import { queryWeb } from '../src/analysis/providers/web.ts';
import { finishAnalysis, startAnalysis, stepAnalysis } from '../src/analysis/run.ts';
import type { TemplateVars } from '../src/analysis/template.ts';
import { validateAnalysis } from '../src/config/analysis.ts';
import type { AnalysisConfig, PrometheusMetric, WebMetric } from '../src/config/types.ts';
import { type PrometheusServer, startPrometheus } from './helpers/prometheus.ts';

const VARS: TemplateVars = { revision: '7', version: "v1.2'3", service: 'web', role: 'canary' };

function cfgOf(raw: Record<string, unknown>): AnalysisConfig {
  const v = validateAnalysis(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.analysis;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('prometheus provider (real Prometheus)', () => {
  let exporter: Awaited<ReturnType<typeof serve>>;
  let prom: PrometheusServer;
  before(async () => {
    exporter = await serve((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(
        [
          '# TYPE app_error_ratio gauge',
          'app_error_ratio{revision="7",version="v1.2\'3"} 0.05',
          'app_error_ratio{revision="6",version="v1.1"} 0.001',
          '',
        ].join('\n'),
      );
    });
    prom = await startPrometheus({
      targets: [{ target: exporter.url.slice('http://'.length) }],
      scrapeInterval: '200ms',
    });
    await prom.waitFor('app_error_ratio', (r) => r.length === 2);
  });
  after(async () => {
    await prom?.stop();
    await exporter?.close();
  });

  const metric = (query: string, extra: Partial<PrometheusMetric> = {}): PrometheusMetric => ({
    name: 'prom',
    type: 'prometheus',
    address: prom.url,
    query,
    timeoutMs: 5000,
    max: 0.02,
    ...extra,
  });

  test('template variables are substituted (and escaped) into the query', async () => {
    const r = await queryPrometheus(
      metric("sum(app_error_ratio{revision='{{revision}}', version='{{version}}'})"),
      VARS,
    );
    assert.deepEqual(r, { ok: true, value: 0.05 });
    const stable = await queryPrometheus(metric('sum(app_error_ratio{revision="6"})'), VARS);
    assert.deepEqual(stable, { ok: true, value: 0.001 });
  });

  test('scalars, no data, several series and bad queries', async () => {
    const scalar = await queryPrometheus(metric('scalar(sum(app_error_ratio))'), VARS);
    assert.ok(scalar.ok && Math.abs((scalar.value as number) - 0.051) < 1e-12, JSON.stringify(scalar));
    const none = await queryPrometheus(metric('app_error_ratio{revision="99"}'), VARS);
    assert.ok(!none.ok && /no data/.test(none.error), JSON.stringify(none));
    const two = await queryPrometheus(metric('app_error_ratio'), VARS);
    assert.ok(!two.ok && /2 series; aggregate/.test(two.error), JSON.stringify(two));
    const bad = await queryPrometheus(metric('sum(app_error_ratio'), VARS);
    assert.ok(!bad.ok && /bad_data/.test(bad.error), JSON.stringify(bad));
    const nan = await queryPrometheus(metric('sum(app_error_ratio) / 0 * 0'), VARS);
    assert.ok(nan.ok && Number.isNaN(nan.value as number), JSON.stringify(nan));
  });

  test('an analysis fails the canary on the Prometheus value', async () => {
    const cfg = cfgOf({
      metrics: [
        {
          name: 'prom',
          prometheus: {
            address: prom.url,
            query: "sum(app_error_ratio{revision='{{revision}}'})",
            max: 0.02,
          },
        },
      ],
    });
    const m = await collectMeasurements(cfg, { vars: VARS });
    const s = stepAnalysis(cfg, startAnalysis(cfg, 0), m, 0);
    assert.equal(s.phase, 'Failed');
    assert.equal(s.metrics.prom.latest?.value, 0.05);
    assert.match(s.message, /prom: 1 failed measurement\(s\) \(limit 0\): 0.05 is above max 0.02/);
    const okCfg = cfgOf({
      metrics: [
        {
          name: 'prom',
          prometheus: { address: prom.url, query: "sum(app_error_ratio{revision='6'})", max: 0.02 },
        },
      ],
    });
    const ok = stepAnalysis(
      okCfg,
      startAnalysis(okCfg, 0),
      await collectMeasurements(okCfg, { vars: VARS }),
      0,
    );
    assert.equal(ok.metrics.prom.latest?.status, 'Pass');
    assert.equal(finishAnalysis(okCfg, ok, 1000).phase, 'Successful');
  });
});

describe('web provider (real HTTP endpoint)', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let hung: http.ServerResponse[] = [];
  before(async () => {
    server = await serve((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/check') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            ok: u.searchParams.get('v') === "v1.2'3",
            auth: req.headers['x-token'] ?? null,
            stats: { errors: [0.001, 0.2] },
          }),
        );
      } else if (u.pathname === '/slow') {
        hung.push(res); // never answers
      } else if (u.pathname === '/html') {
        res.end('<html>oops</html>');
      } else {
        res.statusCode = 500;
        res.end('{"ok":false}');
      }
    });
  });
  after(async () => {
    for (const r of hung) r.destroy();
    hung = [];
    await server?.close();
  });

  const web = (path: string, extra: Partial<WebMetric>): WebMetric => ({
    name: 'web',
    type: 'web',
    url: server.url + path,
    method: 'GET',
    headers: {},
    jsonPath: '$.ok',
    timeoutMs: 2000,
    ...extra,
  });

  test('values by JSON path, URL variables encoded, headers templated', async () => {
    assert.deepEqual(await queryWeb(web('/check?v={{version}}', {}), VARS), { ok: true, value: true });
    assert.deepEqual(await queryWeb(web('/check', { jsonPath: '$.stats.errors[1]' }), VARS), {
      ok: true,
      value: 0.2,
    });
    assert.deepEqual(
      await queryWeb(web('/check', { jsonPath: '$.auth', headers: { 'x-token': 'rev-{{revision}}' } }), VARS),
      { ok: true, value: 'rev-7' },
    );
  });

  test('errors: missing path, HTTP 500, not JSON, refused, timeout', async () => {
    const missing = await queryWeb(web('/check', { jsonPath: '$.nope' }), VARS);
    assert.ok(!missing.ok && /not found/.test(missing.error));
    const e500 = await queryWeb(web('/fail', {}), VARS);
    assert.ok(!e500.ok && /HTTP 500/.test(e500.error), JSON.stringify(e500));
    const html = await queryWeb(web('/html', {}), VARS);
    assert.ok(!html.ok && /not JSON/.test(html.error), JSON.stringify(html));
    const dead = await serve(() => {});
    await dead.close();
    const refused = await queryWeb({ ...web('/check', {}), url: `${dead.url}/check` }, VARS);
    assert.ok(!refused.ok && /ECONNREFUSED|fetch failed/.test(refused.error), JSON.stringify(refused));
    // The timeout error (not the slow answer) is the proof the provider did not wait for it.
    const slow = await queryWeb(web('/slow', { timeoutMs: 300 }), VARS);
    assert.ok(!slow.ok && /timed out after 300ms/.test(slow.error), JSON.stringify(slow));
  });

  test('provider errors count toward consecutiveErrorLimit and never pass', async () => {
    const cfg = cfgOf({
      consecutiveErrorLimit: 2,
      metrics: [
        { name: 'web', web: { url: `${server.url}/slow`, jsonPath: '$.ok', equals: true, timeout: '200ms' } },
      ],
    });
    let s = startAnalysis(cfg, 0);
    for (let i = 0; i < 3; i++)
      s = stepAnalysis(cfg, s, await collectMeasurements(cfg, { vars: VARS }), i * 1000);
    assert.equal(s.phase, 'Error');
    assert.match(s.message, /web: 3 errors in a row \(limit 2\): GET .*\/slow: timed out after 200ms/);
    const ok = cfgOf({
      metrics: [
        { name: 'web', web: { url: `${server.url}/check?v={{version}}`, jsonPath: '$.ok', equals: true } },
      ],
    });
    const r = stepAnalysis(ok, startAnalysis(ok, 0), await collectMeasurements(ok, { vars: VARS }), 0);
    assert.equal(r.metrics.web.latest?.status, 'Pass');
  });

  test('gateway stats that cannot be read are an Error, not a pass', async () => {
    const cfg = cfgOf({ consecutiveErrorLimit: 0, metrics: [{ name: 'e', errorRate: { max: 0.01 } }] });
    const m = await collectMeasurements(cfg, {
      vars: VARS,
      traffic: async () => {
        throw new Error('gateway admin socket: ENOENT');
      },
    });
    const s = stepAnalysis(cfg, startAnalysis(cfg, 0), m, 0);
    assert.equal(s.phase, 'Error');
    assert.match(s.message, /gateway stats: gateway admin socket: ENOENT/);
  });
});
