/** Fleet views as the control API answers them, built from a few facts (CLI tests). */
import type {
  FleetRollout,
  FleetServiceState,
  FleetTarget,
  HostReport,
  HostServiceReport,
} from '../../src/core/fleet/model.ts';
import type { FleetHostView, FleetView } from '../../src/fleet/view.ts';

export function target(version: string): FleetTarget {
  return { version, run: { command: `./server ${version}`, cwd: '/srv/web', env: {} } };
}

export function serviceReport(version: string, generation: number, o: Partial<HostServiceReport> = {}) {
  const r: HostServiceReport = {
    generation,
    stable: target(version),
    target: target(version),
    phase: 'Healthy',
    outcome: 'succeeded',
    ready: 2,
    total: 2,
    routesVersion: 1,
    ...o,
  };
  return r;
}

/** A live host reporting `services`; `live: false` makes it lost (no report). */
export function host(
  name: string,
  services: Record<string, HostServiceReport>,
  o: { live?: boolean; drained?: boolean } = {},
): FleetHostView {
  const live = o.live ?? true;
  const drained = o.drained ?? false;
  const report: HostReport = {
    host: name,
    advertise: '127.0.0.1',
    controlPort: 7000,
    gatewayPort: 8000,
    startedAt: 1,
    reportedAt: 2,
    drained,
    configHash: 'same',
    services,
  };
  return live ? { name, live, drained, report } : { name, live, drained };
}

export function rollout(from: string, to: string, o: Partial<FleetRollout> = {}): FleetRollout {
  return {
    generation: 3,
    kind: 'deploy',
    from: target(from),
    to: target(to),
    hosts: ['web-1', 'web-2', 'web-3'],
    waveSize: 1,
    done: [],
    wave: [],
    skipped: [],
    phase: 'Progressing',
    message: 'starting',
    startedAt: 1,
    ...o,
  };
}

/** Service `name` desired at `version`, every host in `hosts` assigned it at `generation`. */
export function service(
  name: string,
  version: string,
  generation: number,
  hosts: string[],
  o: Partial<FleetServiceState> = {},
): FleetServiceState {
  const assignments: FleetServiceState['assignments'] = {};
  for (const h of hosts) assignments[h] = { target: target(version), generation };
  return { name, desired: target(version), generation, assignments, ...o };
}

export function fleet(
  hosts: FleetHostView[],
  services: FleetServiceState[],
  leader: string | null = 'web-1',
): FleetView {
  return { leader, hosts, services };
}
