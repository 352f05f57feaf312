export const pct = (x) =>
  x === null || x === undefined ? '–' : `${(x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1)}%`;
export const rate = (x) => (x === null || x === undefined ? '–' : x >= 10 ? x.toFixed(0) : x.toFixed(1));
export const ms = (x) =>
  x === null || x === undefined ? '–' : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${+x.toFixed(1)} ms`;
export const time = (t) => (t ? new Date(t).toLocaleTimeString() : '–');
export const dateTime = (t) => (t ? new Date(t).toLocaleString() : '–');

/** The revision shown as "new": canary, preview, or the rollout's target. */
export function newRevision(s) {
  return (
    s.roles?.canary ??
    s.roles?.preview ??
    (s.rollout ? { revision: s.rollout.to, version: s.rollout.version } : undefined)
  );
}
