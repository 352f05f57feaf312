/**
 * Scenario (d)'s figures and its peers, computed on the traffic rate the benchmark actually sent.
 * A Kubernetes rolling update has no analysis: the bad revision replaces every instance and stays
 * until a human acts, so users see error rate x all the traffic, every minute after the rollout.
 * Argo Rollouts and Flagger judge their canary and blue-green rollouts only, never a rolling update
 * (Argo's Rollout has no rolling strategy; Flagger takes a Deployment over as a canary): with their
 * defaults a rolling update fares as with Kubernetes.
 */

import type { RollingRun } from './analysis-rolling.ts';

export interface RollingPeer {
  name: string;
  /** First bad request -> last one: never ends on its own. */
  badWindowS: null;
  failedPerMinuteAfter: number;
  note: string;
}

export interface Spread {
  median: number | null;
  worst: number | null;
}

export interface RollingSummary {
  runs: number;
  notRolledBack: number;
  badWindowS: Spread;
  restoredS: Spread;
  verdictS: Spread;
  failedSeen: Spread;
  badInstancesPeak: number | null;
  /** Failed requests per minute the release still causes once its rollout is over. */
  failedPerMinuteAfter: number | null;
  kubernetes: RollingPeer;
  argoFlagger: RollingPeer;
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const worst = (xs: number[]): number | null => (xs.length ? Math.max(...xs) : null);
const r3 = (n: number | null): number | null => (n === null ? null : Math.round(n * 1000) / 1000);
const spread = (xs: number[]): Spread => ({ median: r3(median(xs)), worst: r3(worst(xs)) });
const seconds = (xs: Array<number | null>): number[] =>
  xs.filter((x): x is number => x !== null).map((x) => x / 1000);

export function rollingPeers(
  sentRps: number,
  errorRate: number,
): { kubernetes: RollingPeer; argoFlagger: RollingPeer } {
  const perMinute = Math.round(sentRps * errorRate * 60);
  return {
    kubernetes: {
      name: 'Kubernetes (rolling update, no analysis)',
      badWindowS: null,
      failedPerMinuteAfter: perMinute,
      note: 'the bad revision replaces every instance and stays until a human acts',
    },
    argoFlagger: {
      name: 'Argo Rollouts / Flagger defaults',
      badWindowS: null,
      failedPerMinuteAfter: perMinute,
      note: 'they do not judge a rolling update (analysis only in their canary/blue-green): same as Kubernetes',
    },
  };
}

export function summarizeRolling(runs: RollingRun[], sentRps: number, errorRate: number): RollingSummary {
  const back = runs.filter((r) => r.outcome === 'rolledBack');
  const peers = rollingPeers(sentRps, errorRate);
  // A run the analysis let through leaves the bad revision everywhere, as Kubernetes does.
  const after =
    runs.length === 0
      ? null
      : runs.some((r) => r.outcome === 'completed')
        ? peers.kubernetes.failedPerMinuteAfter
        : runs.every((r) => r.outcome === 'rolledBack')
          ? 0
          : null;
  return {
    runs: runs.length,
    notRolledBack: runs.length - back.length,
    badWindowS: spread(seconds(back.map((r) => r.badWindowMs))),
    restoredS: spread(seconds(back.map((r) => r.restoredMs))),
    verdictS: spread(seconds(back.map((r) => r.verdictMs))),
    failedSeen: spread(back.map((r) => r.failedSeen)),
    badInstancesPeak: worst(runs.map((r) => r.badInstancesPeak)),
    failedPerMinuteAfter: after,
    ...peers,
  };
}

const fmt = (n: number | null, digits = 2): string => (n === null ? '-' : n.toFixed(digits));
const medWorst = (s: Spread, digits = 2): string =>
  s.median === null ? '-' : `${fmt(s.median, digits)} / ${fmt(s.worst, digits)}`;

/** Rows for the summary table: figure, runs, cutover, Kubernetes, Argo/Flagger, target, verdict. */
export function rollingRows(s: RollingSummary, sentRps: number, errorRate: number): string[][] {
  const n = String(s.runs);
  const missed = s.notRolledBack ? ` (${s.notRolledBack} not rolled back)` : '';
  const pct = `${errorRate * 100}%`;
  const perMin = s.kubernetes.failedPerMinuteAfter;
  return [
    [
      `(d) rolling ${pct} errors: first bad req -> last bad resp (s)`,
      n,
      `${medWorst(s.badWindowS)}${missed}`,
      'never: stays until a human acts',
      'never: rolling not judged (= Kubernetes)',
      '-',
      '-',
    ],
    [
      '(d) failed requests users saw (bad 5xx + socket errors)',
      n,
      medWorst(s.failedSeen, 0),
      `${perMin}/min after the rollout, unbounded`,
      'same as Kubernetes',
      '-',
      '-',
    ],
    [
      '(d) failed requests/min after the rollout',
      n,
      s.failedPerMinuteAfter === 0 ? '0 (no bad instance left)' : fmt(s.failedPerMinuteAfter, 0),
      `${perMin} (${pct} of ${sentRps.toFixed(0)} req/s, whole fleet)`,
      `${perMin} (same as Kubernetes)`,
      '-',
      '-',
    ],
    [
      '(d) first bad req -> old revision on every instance (s)',
      n,
      medWorst(s.restoredS),
      'never',
      'never',
      '-',
      '-',
    ],
  ];
}

/** The per-run table of (d). */
export function rollingRunRows(runs: RollingRun[]): string[][] {
  const s = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(2));
  const rows = [
    [
      'run',
      'outcome',
      'deploy->1st bad s',
      'bad window s',
      'verdict s',
      'restored s',
      'peak bad inst',
      'bad req',
      'bad 5xx',
      'client errs',
      'other req',
      'other 5xx',
      'reason',
    ],
  ];
  for (const r of runs) {
    rows.push([
      `(d) ${r.version}`,
      r.outcome,
      s(r.deployToFirstMs),
      s(r.badWindowMs),
      s(r.verdictMs),
      s(r.restoredMs),
      String(r.badInstancesPeak),
      String(r.badRequests),
      String(r.bad5xx),
      String(r.client.errors),
      String(r.otherRequests),
      String(r.other5xx),
      r.reason.slice(0, 80),
    ]);
  }
  return rows;
}

/** The notes that say how (d) was measured and where its peers' figures come from. */
export function rollingNotes(s: RollingSummary, sentRps: number, errorRate: number): string[] {
  return [
    `(d) rolling: its own cutover up, 4 instances of v1 under ${sentRps.toFixed(0)} req/s, then a revision with ` +
      `${errorRate * 100}% errors, maxSurge 1 / maxUnavailable 0, the same analysis (gate everyBatch: each batch ` +
      `waits for a verdict on the instances already moved). Bad window = start of the first request the bad ` +
      'revision answered -> end of the last response from it (client clock); failed requests = 5xx the gateway ' +
      `counted on the bad revision + socket errors. Peak bad instances routed at once: ${s.badInstancesPeak ?? '-'}.`,
    `(d) peers on the same rate: ${s.kubernetes.name}: ${s.kubernetes.note}, so ${errorRate * 100}% of all ` +
      `${sentRps.toFixed(0)} req/s fail = ${s.kubernetes.failedPerMinuteAfter}/min once the rollout is over (plus ` +
      `what fails during it). ${s.argoFlagger.name}: ${s.argoFlagger.note}.`,
  ];
}
