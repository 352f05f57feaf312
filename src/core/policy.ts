import { formatDuration } from '../config/duration.ts';
import { formatRequestKey } from '../config/request-key.ts';
import type { ServiceConfig } from '../config/types.ts';
import type { RuntimePolicy, ServiceState } from './model.ts';
import type { CommandResult } from './service.ts';

/** The part of a service's config the policy comes from. */
export type PolicySpec = Pick<ServiceConfig, 'loadBalancer' | 'policy'>;

/** The policy in effect and where it comes from. */
export interface EffectivePolicy extends RuntimePolicy {
  source: 'config' | 'runtime';
}

/** The policy in effect: the runtime override (`cutover limits`) or the config's. */
export function effectivePolicy(spec: PolicySpec, state: ServiceState | undefined): EffectivePolicy {
  if (state?.policy) return { ...state.policy, source: 'runtime' };
  const fromConfig: EffectivePolicy = { loadBalancer: spec.loadBalancer, source: 'config' };
  if (spec.policy !== undefined) fromConfig.policy = spec.policy;
  return fromConfig;
}

/**
 * `limits`: replaces the whole traffic policy at runtime (already validated by the caller), or with
 * undefined goes back to the config's. Any strategy: the policy is about instances, not revisions.
 */
export function setPolicy(state: ServiceState, next: RuntimePolicy | undefined): CommandResult {
  const { policy: _old, ...rest } = state;
  const changed: ServiceState = next === undefined ? rest : { ...rest, policy: next };
  return {
    ok: true,
    state: changed,
    revision: state.rollout?.to ?? state.stable,
    events: [
      {
        service: state.name,
        type: 'PolicyChanged',
        message: next
          ? `traffic policy replaced at runtime: ${describePolicy(next)}`
          : 'traffic policy reset to the config file',
      },
    ],
  };
}

/**
 * One line for status and the event log, e.g.
 * `hash cookie:session, rate 100/1s burst 200 by ip, 64 in flight per instance`. Pure.
 */
export function describePolicy(p: RuntimePolicy): string {
  const parts: string[] = [];
  const pol = p.policy ?? {};
  if (p.loadBalancer === 'hash') parts.push(pol.hashKey ? `hash ${formatRequestKey(pol.hashKey)}` : 'hash');
  else if (p.loadBalancer !== 'roundRobin') parts.push(p.loadBalancer);
  const r = pol.rate;
  if (r)
    parts.push(
      `rate ${r.requests}/${formatDuration(r.perMs)} burst ${r.burst} by ${formatRequestKey(r.key)}`,
    );
  if (pol.maxInFlightPerInstance !== undefined) {
    const queue = pol.queueTimeoutMs ? ` (queue ${formatDuration(pol.queueTimeoutMs)})` : '';
    parts.push(`${pol.maxInFlightPerInstance} in flight per instance${queue}`);
  }
  if (pol.maxConnectionsPerClient !== undefined)
    parts.push(`${pol.maxConnectionsPerClient} connections per client`);
  const od = pol.outlierDetection;
  if (od) {
    const when = [
      od.consecutive5xx === undefined ? '' : `${od.consecutive5xx} 5xx in a row`,
      od.errorRate === undefined ? '' : `${Math.round(od.errorRate.above * 100)}% 5xx`,
    ].filter(Boolean);
    parts.push(`eject after ${when.join(' or ')} for ${formatDuration(od.ejectForMs)}`);
  }
  if (pol.requestTimeoutMs !== undefined) parts.push(`timeout ${formatDuration(pol.requestTimeoutMs)}`);
  if (pol.retries)
    parts.push(`${pol.retries.attempts} retries (budget ${Math.round(pol.retries.budgetPercent)}%)`);
  return parts.length === 0 ? 'roundRobin, no limits' : parts.join(', ');
}
