import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RollingRun } from './analysis-rolling.ts';
import { rollingPeers, rollingRows, summarizeRolling } from './analysis-rolling-report.ts';

function run(over: Partial<RollingRun>): RollingRun {
  return {
    version: 'd1',
    revision: 2,
    outcome: 'rolledBack',
    reason: 'analysis failed: errors',
    deployToFirstMs: 700,
    badWindowMs: 2000,
    restoredMs: 2500,
    verdictMs: 1900,
    badInstancesPeak: 1,
    badRequests: 500,
    bad5xx: 25,
    otherRequests: 3000,
    other5xx: 3,
    client: { sent: 3500, ok: 3470, non2xx: 28, errors: 0, throttled: 0 },
    failedSeen: 25,
    ...over,
  };
}

test('peers: the whole fleet fails at the error rate, per minute, and neither peer ends it', () => {
  const p = rollingPeers(1000, 0.05);
  assert.equal(p.kubernetes.failedPerMinuteAfter, 3000);
  assert.equal(p.argoFlagger.failedPerMinuteAfter, 3000);
  assert.equal(p.kubernetes.badWindowS, null);
  assert.match(p.argoFlagger.note, /do not judge a rolling update/);
});

test('summary over the rolled-back runs; a run the analysis let through leaves failures after it', () => {
  const cases: Array<{
    name: string;
    runs: RollingRun[];
    window: number | null;
    after: number | null;
    missed: number;
  }> = [
    {
      name: 'all rolled back',
      runs: [run({ badWindowMs: 2000 }), run({ version: 'd2', badWindowMs: 3000, failedSeen: 40 })],
      window: 3,
      after: 0,
      missed: 0,
    },
    {
      name: 'one completed',
      runs: [run({}), run({ version: 'd2', outcome: 'completed' })],
      window: 2,
      after: 3000,
      missed: 1,
    },
    {
      name: 'one timed out',
      runs: [run({}), run({ outcome: 'timeout' })],
      window: 2,
      after: null,
      missed: 1,
    },
    { name: 'no run', runs: [], window: null, after: null, missed: 0 },
  ];
  for (const c of cases) {
    const s = summarizeRolling(c.runs, 1000, 0.05);
    assert.equal(s.runs, c.runs.length, c.name);
    assert.equal(s.badWindowS.worst, c.window, c.name);
    assert.equal(s.failedPerMinuteAfter, c.after, c.name);
    assert.equal(s.notRolledBack, c.missed, c.name);
  }
});

test('rows: four figures of seven cells, the measured ones beside the peers', () => {
  const s = summarizeRolling(
    [run({}), run({ version: 'd2', badWindowMs: 3000, failedSeen: 40 })],
    1000,
    0.05,
  );
  const rows = rollingRows(s, 1000, 0.05);
  assert.equal(rows.length, 4);
  for (const r of rows) assert.equal(r.length, 7);
  assert.equal(rows[0][2], '2.50 / 3.00');
  assert.equal(rows[1][2], '33 / 40');
  assert.match(rows[1][3], /^3000\/min/);
  assert.equal(rows[2][2], '0 (no bad instance left)');
});
