/** Why a live host is behind its assignment of a service (undefined: it is not). */
import type { FleetServiceState } from '../core/fleet/model.ts';
import type { FleetHostView } from './view.ts';

export function lagOf(host: FleetHostView, svc: FleetServiceState): string | undefined {
  const assigned = svc.assignments[host.name];
  const report = host.report?.services[svc.name];
  if (!assigned || !host.live || !host.report) return undefined;
  if (!report) return `no report of generation ${assigned.generation}`;
  if (report.generation < assigned.generation)
    return `acted on generation ${report.generation} of ${assigned.generation}`;
  if (report.stable.version !== assigned.target.version)
    return `serves ${report.stable.version}, assigned ${assigned.target.version}`;
  return undefined;
}
