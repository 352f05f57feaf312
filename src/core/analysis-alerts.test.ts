import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnalysisState, type Measurements, startAnalysis, stepAnalysis } from '../analysis/run.ts';
import { validateAnalysis } from '../config/analysis.ts';
import type { AnalysisConfig } from '../config/types.ts';
import { alertEvents } from './analysis-alerts.ts';
import { promotionGate } from './gates.ts';
import type { RollingRollout } from './model.ts';
import { rollingDeploy } from './test-fixtures.ts';

function cfgOf(metrics: unknown[]): AnalysisConfig {
  const v = validateAnalysis({ minRequests: 50, metrics });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.analysis;
}

const errors = (onFail?: string) => ({
  name: 'errors',
  errorRate: { max: 0.01 },
  ...(onFail ? { onFail } : {}),
});
const slow = (onFail?: string) => ({
  name: 'p99',
  latency: { percentile: 99, max: '800ms' },
  ...(onFail ? { onFail } : {}),
});

/** Cumulative counts after `ticks` ticks of 100 requests: `badErrors`/tick errors, `slowShare` over 1s. */
function rounds(ticks: number, badErrors: number, slowPerTick: number): Measurements[] {
  const out: Measurements[] = [];
  for (let k = 1; k <= ticks; k++) {
    const fast = (100 - slowPerTick) * k;
    out.push({
      traffic: {
        canary: {
          requests: 100 * k,
          errors: badErrors * k,
          latency: { boundsMs: [100, 800, 2000], counts: [fast, 0, slowPerTick * k, 0] },
        },
        stable: { requests: 100 * k, errors: 0 },
      },
    });
  }
  return out;
}

function feed(cfg: AnalysisConfig, ms: Measurements[]): AnalysisState {
  let s = startAnalysis(cfg, 0);
  ms.forEach((m, i) => {
    s = stepAnalysis(cfg, s, m, i * 1000);
  });
  return s;
}

// [what, metrics, errors per 100, slow per 100, phase after 30 ticks, alerts, promotion gate]
const table: Array<[string, unknown[], number, number, string, string[], string]> = [
  ['a failing abort metric fails the analysis', [errors(), slow()], 10, 0, 'Failed', [], 'fail'],
  ['default onFail is abort', [errors(), slow()], 0, 20, 'Failed', [], 'fail'],
  [
    'a failing alert metric alerts and the analysis goes on',
    [errors(), slow('alert')],
    0,
    20,
    'Running',
    ['p99'],
    'open',
  ],
  [
    'an alert metric does not hide an abort metric failing',
    [errors(), slow('alert')],
    10,
    20,
    'Failed',
    ['p99'],
    'fail',
  ],
  ['healthy: no alert', [errors(), slow('alert')], 0, 0, 'Running', [], 'open'],
  [
    'every metric alert-only: nothing aborts',
    [errors('alert'), slow('alert')],
    10,
    20,
    'Running',
    ['errors', 'p99'],
    'open',
  ],
];

for (const [what, metrics, bad, slowTick, phase, alerts, gate] of table) {
  test(`onFail: ${what}`, () => {
    const cfg = cfgOf(metrics);
    const s = feed(cfg, rounds(30, bad, slowTick));
    assert.equal(s.phase, phase, s.message);
    assert.deepEqual(s.alerts ?? [], alerts);
    assert.equal(promotionGate(cfg, s).kind, gate);
  });
}

const rolling = (analysis?: AnalysisState): RollingRollout => rollingDeploy({ analysis });

test('alertEvents: one AnalysisAlert per newly failed alert metric, none again for the same analysis', () => {
  const cfg = cfgOf([errors('alert'), slow('alert')]);
  const s = feed(cfg, rounds(30, 10, 20));
  const none = feed(cfg, []);
  const partly: AnalysisState = { ...s, alerts: ['errors'] };
  const cases: Array<[AnalysisState | undefined, AnalysisState | undefined, string[]]> = [
    [none, s, ['errors', 'p99']],
    [partly, s, ['p99']],
    [s, s, []],
    [undefined, s, ['errors', 'p99']],
    [s, undefined, []],
    // The next batch's analysis (another start) alerts again.
    [{ ...s, startedAt: -1 }, s, ['errors', 'p99']],
  ];
  for (const [before, after, names] of cases) {
    const events = alertEvents('web', rolling(before), rolling(after));
    assert.deepEqual(
      events.map((e) => e.message.split(':')[1].trim()),
      names,
    );
    for (const e of events) {
      assert.equal(e.type, 'AnalysisAlert');
      assert.equal(e.revision, 2);
      assert.equal(e.service, 'web');
    }
  }
});

test('onFail is validated with its key path', () => {
  const v = validateAnalysis({ metrics: [{ name: 'e', errorRate: { max: 0.1 }, onFail: 'alrt' }] });
  assert.equal(v.ok, false);
  if (v.ok) return;
  assert.deepEqual(
    v.issues.map((i) => `${i.path}: ${i.message}`),
    ['analysis.metrics.0.onFail: must be abort or alert, got "alrt"; did you mean "alert"?'],
  );
  const ok = validateAnalysis({ metrics: [{ name: 'e', errorRate: { max: 0.1 }, onFail: 'alert' }] });
  assert.ok(ok.ok && ok.analysis.metrics[0].onFail === 'alert');
});

test('onFail: alert on a provider metric: failures past failureLimit alert once, the analysis goes on', () => {
  const cfg = cfgOf([
    { name: 'web', web: { url: 'http://127.0.0.1:1/x', jsonPath: '$.v', max: 10 }, onFail: 'alert' },
  ]);
  let s = startAnalysis(cfg, 0);
  for (let i = 0; i < 5; i++)
    s = stepAnalysis(cfg, s, { values: { web: { ok: true, value: 50 } } }, i * 1000);
  assert.equal(s.phase, 'Running', s.message);
  assert.deepEqual(s.alerts, ['web']);
  assert.equal(s.metrics.web.failures, 5);
  assert.equal(promotionGate(cfg, s).kind, 'open');
  const abortCfg = cfgOf([{ name: 'web', web: { url: 'http://127.0.0.1:1/x', jsonPath: '$.v', max: 10 } }]);
  const a = stepAnalysis(
    abortCfg,
    startAnalysis(abortCfg, 0),
    { values: { web: { ok: true, value: 50 } } },
    0,
  );
  assert.equal(a.phase, 'Failed');
});
