import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateAnalysis } from '../config/analysis.ts';
import type { AnalysisConfig } from '../config/types.ts';
import { confidenceRank, diffCounts, quantileBound, quantileUpperConfidence, slowerThan } from './counts.ts';
import { judgeValue } from './judge.ts';
import {
  type AnalysisState,
  analysisDue,
  finishAnalysis,
  type Measurements,
  startAnalysis,
  stepAnalysis,
} from './run.ts';

function cfgOf(raw: Record<string, unknown>): AnalysisConfig {
  const v = validateAnalysis(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.analysis;
}

const errorsOnly = cfgOf({ metrics: [{ name: 'errors', errorRate: { max: 0.01 } }] });
const webOnly = (extra: Record<string, unknown> = {}) =>
  cfgOf({
    ...extra,
    metrics: [{ name: 'web', web: { url: 'http://127.0.0.1:1/x', jsonPath: '$.v', max: 10 } }],
  });

const traffic = (requests: number, errors: number, sr = 0, se = 0): Measurements => ({
  traffic: { canary: { requests, errors }, stable: { requests: sr, errors: se } },
});

function feed(cfg: AnalysisConfig, rounds: Measurements[], start = 0): AnalysisState {
  let s = startAnalysis(cfg, start);
  rounds.forEach((m, i) => {
    s = stepAnalysis(cfg, s, m, start + cfg.initialDelayMs + i * cfg.intervalMs);
  });
  return s;
}

describe('counts', () => {
  const h = { boundsMs: [10, 100, 1000], counts: [50, 30, 15, 5] };
  test('slowerThan brackets a threshold inside a bucket and is exact on a bound', () => {
    assert.deepEqual(slowerThan(h, 100), { surely: 20, maybe: 20, estimate: 20 });
    const s = slowerThan(h, 550);
    assert.equal(s.surely, 5);
    assert.equal(s.maybe, 20);
    assert.equal(s.estimate, 5 + 15 * (450 / 900));
    assert.deepEqual(slowerThan(h, 5000), { surely: 0, maybe: 5, estimate: 5 });
  });
  test('quantileBound and the confidence bound', () => {
    assert.equal(quantileBound(h, 0.5), 10);
    assert.equal(quantileBound(h, 0.8), 100);
    assert.equal(quantileBound(h, 0.99), Number.POSITIVE_INFINITY);
    assert.equal(quantileBound({ boundsMs: [1], counts: [0, 0] }, 0.5), undefined);
    // 100 samples are too few for a 99% upper bound of p99 at 1% error; 1000 are enough.
    assert.equal(confidenceRank(100, 0.01, 0.01), 0);
    assert.ok(confidenceRank(1000, 0.01, 0.01) >= 3);
    const big = { boundsMs: [10, 100, 1000], counts: [900, 95, 5, 0] };
    assert.equal(quantileUpperConfidence(big, 0.99, 0.01), 1000);
    assert.equal(quantileUpperConfidence(h, 0.99, 0.01), undefined);
  });
  test('diffCounts: increments, and undefined when a counter went down', () => {
    assert.deepEqual(diffCounts({ requests: 10, errors: 2 }, { requests: 4, errors: 1 }), {
      requests: 6,
      errors: 1,
    });
    assert.equal(diffCounts({ requests: 3, errors: 0 }, { requests: 4, errors: 0 }), undefined);
    const a = { requests: 5, errors: 0, latency: { boundsMs: [1], counts: [3, 2] } };
    const b = { requests: 9, errors: 0, latency: { boundsMs: [1], counts: [6, 3] } };
    assert.deepEqual(diffCounts(b, a)?.latency?.counts, [3, 1]);
    assert.equal(diffCounts(a, b), undefined);
    assert.equal(diffCounts({ ...b, latency: { boundsMs: [2], counts: [6, 3] } }, a), undefined);
  });
});

describe('judgeValue', () => {
  const table: Array<[Parameters<typeof judgeValue>[0], unknown, string]> = [
    [{ max: 1 }, 0.5, 'Pass'],
    [{ max: 1 }, 1, 'Pass'],
    [{ max: 1 }, 1.01, 'Fail'],
    [{ min: 1 }, 0.99, 'Fail'],
    [{ min: 1, max: 2 }, '1.5', 'Pass'],
    [{ max: 1 }, '+Inf', 'Fail'],
    [{ max: 1 }, 'NaN', 'Inconclusive'],
    [{ max: 1 }, 'abc', 'Error'],
    [{ max: 1 }, null, 'Error'],
    [{ max: 1 }, true, 'Error'],
    [{ equals: true }, true, 'Pass'],
    [{ equals: true }, 'true', 'Fail'],
    [{ equals: 'ok' }, 'ok', 'Pass'],
    [{ equals: null }, null, 'Pass'],
  ];
  for (const [cond, value, want] of table) {
    test(`${JSON.stringify(cond)} on ${JSON.stringify(value)} -> ${want}`, () => {
      assert.equal(judgeValue(cond, value).status, want);
    });
  }
});

describe('AnalysisRun', () => {
  test('the first sample opens the window; below minRequests nothing is decided', () => {
    // 40 requests, all errors: below minRequests (50), so still Pending.
    const s = feed(errorsOnly, [traffic(0, 0), traffic(40, 40)]);
    assert.equal(s.phase, 'Running');
    assert.equal(s.metrics.errors.latest?.status, 'Pending');
    assert.match(s.metrics.errors.latest?.reason ?? '', /40 of 50 requests/);
    const s2 = stepAnalysis(errorsOnly, s, traffic(60, 60), 3000);
    assert.equal(s2.phase, 'Failed');
    assert.match(s2.message, /^errors: /);
    assert.equal(s2.metrics.errors.latest?.samples, 60);
  });

  test('counts before the window are not judged (cumulative counters start high)', () => {
    const s = feed(errorsOnly, [traffic(10_000, 5000), traffic(10_200, 5000)]);
    assert.equal(s.phase, 'Running');
    assert.equal(s.window.canary.requests, 200);
    assert.equal(s.metrics.errors.latest?.value, 0);
  });

  test('initialDelay: rounds before it are ignored', () => {
    const cfg = { ...errorsOnly, initialDelayMs: 5000 };
    let s = startAnalysis(cfg, 0);
    assert.equal(analysisDue(s, 4999), false);
    assert.equal(analysisDue(s, 5000), true);
    s = stepAnalysis(cfg, s, traffic(100, 100), 1000);
    assert.equal(s.prev, undefined);
    s = stepAnalysis(cfg, s, traffic(100, 100), 5000);
    assert.ok(s.prev);
    assert.equal(analysisDue(s, 5999), false);
    assert.equal(analysisDue(s, 6000), true);
  });

  test('a counter reset skips that tick instead of judging garbage', () => {
    const s = feed(errorsOnly, [traffic(0, 0), traffic(500, 0), traffic(100, 50), traffic(600, 50)]);
    assert.equal(s.counterResets, 1);
    assert.equal(s.window.canary.requests, 1000);
    assert.equal(s.window.canary.errors, 0);
    assert.equal(s.phase, 'Running');
  });

  test('gateway stats errors: more than consecutiveErrorLimit in a row -> Error', () => {
    const err = { traffic: { error: 'connect ENOENT' } };
    const s = feed(errorsOnly, [traffic(0, 0), err, err, err, err]);
    assert.equal(s.phase, 'Running');
    assert.equal(s.metrics.errors.consecutiveErrors, 4);
    const s2 = stepAnalysis(errorsOnly, s, err, 10_000);
    assert.equal(s2.phase, 'Error');
    assert.match(s2.message, /5 errors in a row \(limit 4\): gateway stats: connect ENOENT/);
    // A success in between resets the streak.
    const s3 = feed(errorsOnly, [traffic(0, 0), err, err, err, err, traffic(10, 0), err, err, err, err]);
    assert.equal(s3.phase, 'Running');
    assert.equal(s3.metrics.errors.errors, 8);
  });

  test('provider: failureLimit, inconclusiveLimit, missing values', () => {
    const v = (value: unknown): Measurements => ({ values: { web: { ok: true, value } } });
    assert.equal(feed(webOnly(), [v(11)]).phase, 'Failed');
    const tolerant = webOnly({ failureLimit: 2 });
    assert.equal(feed(tolerant, [v(11), v(1), v(11)]).phase, 'Running');
    const failed = feed(tolerant, [v(11), v(1), v(11), v(12)]);
    assert.equal(failed.phase, 'Failed');
    assert.match(failed.message, /3 failed measurement\(s\) \(limit 2\)/);
    assert.equal(feed(webOnly(), [v('NaN')]).phase, 'Inconclusive');
    assert.equal(feed(webOnly({ inconclusiveLimit: 1 }), [v('NaN')]).phase, 'Running');
    const missing = feed(webOnly({ consecutiveErrorLimit: 0 }), [{}]);
    assert.equal(missing.phase, 'Error');
    assert.match(missing.message, /not measured/);
    const pe = feed(webOnly(), [{ values: { web: { ok: false, error: 'timed out after 5000ms' } } }]);
    assert.equal(pe.metrics.web.latest?.status, 'Error');
    assert.equal(pe.phase, 'Running');
  });

  test('finish: Successful without Fail; Inconclusive below minRequests or never measured', () => {
    const ok = feed(errorsOnly, [traffic(0, 0), traffic(100, 0)]);
    const done = finishAnalysis(errorsOnly, ok, 5000);
    assert.equal(done.phase, 'Successful');
    assert.equal(done.metrics.errors.latest?.status, 'Pass');
    assert.equal(done.finishedAt, 5000);
    const few = finishAnalysis(errorsOnly, feed(errorsOnly, [traffic(0, 0), traffic(10, 0)]), 5000);
    assert.equal(few.phase, 'Inconclusive');
    assert.match(few.message, /10 of 50 requests/);
    const none = finishAnalysis(errorsOnly, startAnalysis(errorsOnly, 0), 1000);
    assert.equal(none.phase, 'Inconclusive');
    const web = webOnly();
    const errored = feed(web, [{ values: { web: { ok: false, error: 'refused' } } }]);
    const wf = finishAnalysis(web, errored, 2000);
    assert.equal(wf.phase, 'Inconclusive', 'an error never passes silently');
    assert.match(wf.message, /never measured successfully \(refused\)/);
    // Ended analyses stay as they are.
    const failed = feed(errorsOnly, [traffic(0, 0), traffic(100, 100)]);
    assert.equal(finishAnalysis(errorsOnly, failed, 9000), failed);
    assert.equal(stepAnalysis(errorsOnly, failed, traffic(200, 100), 9000), failed);
  });

  test('a healthy metric with strong evidence reports Pass while running', () => {
    const s = feed(errorsOnly, [traffic(0, 0), traffic(5000, 0)]);
    assert.equal(s.metrics.errors.latest?.status, 'Pass');
    assert.match(s.metrics.errors.latest?.reason ?? '', /strong evidence of health/);
  });

  test('vs-stable with no stable traffic stays Pending, then Inconclusive at the end', () => {
    const cfg = cfgOf({ metrics: [{ name: 'vs', errorRate: { maxIncreaseOver: 'stable', by: 0.005 } }] });
    const s = feed(cfg, [traffic(0, 0), traffic(100, 1)]);
    assert.equal(s.metrics.vs.latest?.status, 'Pending');
    assert.match(s.metrics.vs.latest?.reason ?? '', /no stable traffic/);
    assert.equal(finishAnalysis(cfg, s, 9000).phase, 'Inconclusive');
  });

  test('state is plain JSON (it can be persisted and resumed)', () => {
    const cfg = cfgOf({
      metrics: [
        { name: 'e', errorRate: { max: 0.01 } },
        { name: 'v', errorRate: { maxIncreaseOver: 'stable', by: 0.005 } },
      ],
    });
    const s = feed(cfg, [traffic(0, 0, 0, 0), traffic(100, 1, 900, 1)]);
    assert.equal(s.phase, 'Running');
    const json = (x: unknown) => JSON.parse(JSON.stringify(x));
    const resumed = json(s) as AnalysisState;
    const m = traffic(200, 2, 1800, 2);
    assert.deepEqual(json(stepAnalysis(cfg, resumed, m, 2000)), json(stepAnalysis(cfg, s, m, 2000)));
  });
});
