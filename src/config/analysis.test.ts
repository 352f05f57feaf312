import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ANALYSIS_DEFAULTS, validateAnalysis } from './analysis.ts';
import { parseJsonPath } from './json-path.ts';

// The documented example spells out the defaults.
const { interval, initialDelay, failureLimit, consecutiveErrorLimit, inconclusiveLimit, minRequests } =
  ANALYSIS_DEFAULTS;
const BRIEF = {
  interval,
  initialDelay,
  failureLimit,
  consecutiveErrorLimit,
  inconclusiveLimit,
  minRequests,
  metrics: [
    { name: 'errors', errorRate: { max: 0.01 } },
    { name: 'vs-stable', errorRate: { maxIncreaseOver: 'stable', by: 0.005 } },
    { name: 'latency', latency: { percentile: 99, max: '800ms' } },
    { name: 'latency-vs-stable', latency: { percentile: 99, maxIncreaseOver: 'stable', by: '300ms' } },
    {
      name: 'prom',
      prometheus: {
        address: 'http://127.0.0.1:9090/',
        query: "sum(rate(x{revision='{{revision}}'}[1m]))",
        max: 0.02,
      },
    },
    {
      name: 'web',
      web: { url: 'http://127.0.0.1:8080/check?v={{version}}', jsonPath: '$.ok', equals: true },
    },
  ],
};

function issues(raw: unknown): string[] {
  const r = validateAnalysis(raw);
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('validateAnalysis', () => {
  test('the documented example, fully defaulted', () => {
    const r = validateAnalysis(BRIEF);
    assert.ok(r.ok, JSON.stringify(r));
    const a = r.analysis;
    assert.equal(a.intervalMs, 1000);
    assert.equal(a.alpha, 0.01);
    assert.deepEqual(
      a.metrics.map((m) => m.type),
      ['errorRate', 'errorRateVsStable', 'latency', 'latencyVsStable', 'prometheus', 'web'],
    );
    assert.deepEqual(a.metrics[1], { name: 'vs-stable', type: 'errorRateVsStable', by: 0.005, ratio: 2 });
    assert.deepEqual(a.metrics[2], { name: 'latency', type: 'latency', percentile: 99, maxMs: 800 });
    assert.deepEqual(a.metrics[3], {
      name: 'latency-vs-stable',
      type: 'latencyVsStable',
      percentile: 99,
      byMs: 300,
    });
    const prom = a.metrics[4];
    assert.ok(prom.type === 'prometheus');
    assert.equal(prom.address, 'http://127.0.0.1:9090');
    assert.equal(prom.timeoutMs, 5000);
    const web = a.metrics[5];
    assert.ok(web.type === 'web');
    assert.equal(web.equals, true);
    assert.equal(web.method, 'GET');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['missing', undefined, /^analysis: must be a mapping/],
    [
      'unknown key',
      { ...BRIEF, intervall: '1s' },
      /^analysis\.intervall: unknown key; did you mean "interval"\?/,
    ],
    [
      'bare number duration',
      { ...BRIEF, interval: 5 },
      /^analysis\.interval: must be a duration with a unit/,
    ],
    ['negative limit', { ...BRIEF, failureLimit: -1 }, /^analysis\.failureLimit: must be an integer >= 0/],
    ['minRequests 0', { ...BRIEF, minRequests: 0 }, /^analysis\.minRequests: must be an integer >= 1/],
    ['alpha too big', { ...BRIEF, alpha: 0.5 }, /^analysis\.alpha: must be a number > 0 and <= 0.2/],
    ['no metrics', { metrics: [] }, /^analysis\.metrics: must be a non-empty list/],
    [
      'two kinds',
      { metrics: [{ name: 'a', errorRate: { max: 0.1 }, latency: { max: '1s' } }] },
      /^analysis\.metrics\.0: has errorRate and latency/,
    ],
    [
      'no kind',
      { metrics: [{ name: 'a' }] },
      /^analysis\.metrics\.0: needs one of errorRate, latency, prometheus, web/,
    ],
    ['no name', { metrics: [{ errorRate: { max: 0.1 } }] }, /^analysis\.metrics\.0\.name: is required/],
    [
      'dup name',
      {
        metrics: [
          { name: 'a', errorRate: { max: 0.1 } },
          { name: 'a', errorRate: { max: 0.2 } },
        ],
      },
      /^analysis\.metrics\.1\.name: duplicate metric name "a"/,
    ],
    [
      'rate >= 1',
      { metrics: [{ name: 'a', errorRate: { max: 1 } }] },
      /^analysis\.metrics\.0\.errorRate\.max: must be a number >= 0 and < 1/,
    ],
    [
      'vs prod',
      { metrics: [{ name: 'a', errorRate: { maxIncreaseOver: 'prod', by: 0.01 } }] },
      /maxIncreaseOver: must be stable/,
    ],
    [
      'vs without by',
      { metrics: [{ name: 'a', errorRate: { maxIncreaseOver: 'stable' } }] },
      /errorRate\.by: is required with maxIncreaseOver/,
    ],
    [
      'by too large',
      { metrics: [{ name: 'a', errorRate: { maxIncreaseOver: 'stable', by: 0.5 } }] },
      /errorRate\.by: must be a number >= 0 and <= 0.1/,
    ],
    [
      'by with max',
      { metrics: [{ name: 'a', errorRate: { max: 0.01, by: 0.01 } }] },
      /errorRate\.by: only applies with maxIncreaseOver/,
    ],
    [
      'percentile 100',
      { metrics: [{ name: 'a', latency: { percentile: 100, max: '1s' } }] },
      /latency\.percentile: must be a number >= 50 and <= 99.99/,
    ],
    [
      'latency max number',
      { metrics: [{ name: 'a', latency: { max: 800 } }] },
      /latency\.max: must be a duration with a unit/,
    ],
    [
      'prom bad address',
      { metrics: [{ name: 'a', prometheus: { address: 'localhost:9090', query: 'up', max: 1 } }] },
      /prometheus\.address: must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      'prom no condition',
      { metrics: [{ name: 'a', prometheus: { address: 'http://x', query: 'up' } }] },
      /prometheus: needs a condition: max or min/,
    ],
    [
      'prom unknown var',
      { metrics: [{ name: 'a', prometheus: { address: 'http://x', query: 'x{r="{{revison}}"}', max: 1 } }] },
      /prometheus\.query: unknown variable \{\{revison\}\}; did you mean "revision"\?/,
    ],
    [
      'prom equals',
      { metrics: [{ name: 'a', prometheus: { address: 'http://x', query: 'up', equals: 1 } }] },
      /prometheus\.equals: unknown key/,
    ],
    [
      'web bad path',
      { metrics: [{ name: 'a', web: { url: 'http://x', jsonPath: 'ok', equals: true } }] },
      /web\.jsonPath: must be a JSON path/,
    ],
    [
      'web equals and max',
      { metrics: [{ name: 'a', web: { url: 'http://x', equals: 1, max: 2 } }] },
      /web\.equals: use either equals or max\/min/,
    ],
    [
      'web min > max',
      { metrics: [{ name: 'a', web: { url: 'http://x', min: 3, max: 2 } }] },
      /web\.min: must not be above max/,
    ],
    [
      'web method',
      { metrics: [{ name: 'a', web: { url: 'http://x', method: 'PUT', max: 2 } }] },
      /web\.method: must be GET or POST/,
    ],
  ];
  for (const [name, raw, re] of bad) {
    test(`rejects: ${name}`, () => {
      const got = issues(raw);
      assert.ok(
        got.some((i) => re.test(i)),
        `${re} not in ${JSON.stringify(got)}`,
      );
    });
  }

  test('a path prefix for services', () => {
    const r = validateAnalysis({ metrics: [] }, 'services.web.analysis');
    assert.ok(!r.ok);
    assert.equal(r.issues[0].path, 'services.web.analysis.metrics');
  });

  test('parseJsonPath', () => {
    assert.deepEqual(parseJsonPath('$'), { ok: true, steps: [] });
    assert.deepEqual(parseJsonPath('$.a.b[2][\'c-d\']["e"]'), { ok: true, steps: ['a', 'b', 2, 'c-d', 'e'] });
    assert.equal(parseJsonPath('$.a..b').ok, false);
    assert.equal(parseJsonPath('$[*]').ok, false);
  });
});
