import type { PolicyView } from '../api/policy-view.ts';

/** Whether a policy sets anything beyond round robin and no limits. */
function isSet(v: PolicyView): boolean {
  const { loadBalancer, ...rest } = v.policy;
  return loadBalancer.type !== 'roundRobin' || Object.keys(rest).length > 0;
}

/** The `cutover status` line of a service's policy; null when it is the default and from the config. */
export function policyLine(v: PolicyView | undefined): string | null {
  if (v === undefined || (v.source === 'config' && !isSet(v))) return null;
  return `policy${v.source === 'runtime' ? ' (runtime)' : ''}: ${v.summary}`;
}

/** Human view of `cutover limits SERVICE`: one line per key in effect. */
export function formatPolicy(v: PolicyView & { service: string }): string {
  const p = v.policy;
  const lines = [`traffic policy of ${v.service} (${v.source}): ${v.summary}`];
  const row = (key: string, text: string) => lines.push(`  ${key.padEnd(30)} ${text}`);
  row(
    'loadBalancer',
    p.loadBalancer.key ? `${p.loadBalancer.type} on ${p.loadBalancer.key}` : p.loadBalancer.type,
  );
  const l = p.limits;
  if (l?.rate) {
    const r = l.rate;
    row('limits.rate', `${r.requests} per ${r.per}, burst ${r.burst}, by ${r.key}`);
  }
  if (l?.maxInFlightPerInstance !== undefined)
    row('limits.maxInFlightPerInstance', String(l.maxInFlightPerInstance));
  if (l?.queueTimeout !== undefined) row('limits.queueTimeout', l.queueTimeout);
  if (l?.maxConnectionsPerClient !== undefined)
    row('limits.maxConnectionsPerClient', String(l.maxConnectionsPerClient));
  const od = p.outlierDetection;
  if (od) {
    const when = [
      od.consecutive5xx === undefined ? '' : `${od.consecutive5xx} consecutive 5xx`,
      od.errorRate === undefined
        ? ''
        : `5xx share above ${od.errorRate.above} over ${od.errorRate.window} (min ${od.errorRate.minRequests} requests)`,
    ].filter(Boolean);
    row(
      'outlierDetection',
      `${when.join(' or ')}; eject for ${od.ejectFor}, at most ${od.maxEjectedPercent}% of a revision`,
    );
  }
  if (p.timeouts) row('timeouts.request', p.timeouts.request);
  if (p.retries) row('retries', `${p.retries.attempts} attempts, budget ${p.retries.budget}`);
  return lines.join('\n');
}
