/** `/metrics` families of fleet mode (from the fleet's view in etcd, read at each scrape). */
import { lagOf } from '../fleet/lag.ts';
import type { FleetView } from '../fleet/view.ts';
import { families, type MetricFamily } from './text.ts';

const FAMILIES = {
  etcd: ['cutover_fleet_etcd_up', 'gauge', '1 when this host could read the fleet from etcd at this scrape'],
  leader: ['cutover_fleet_leader', 'gauge', '1 for the host whose controller leads the fleet'],
  up: ['cutover_fleet_host_up', 'gauge', '1 while the host heartbeat lease is alive, 0 once it is lost'],
  drained: [
    'cutover_fleet_host_drained',
    'gauge',
    '1 while the host is drained (its gateway fails its health check)',
  ],
  lagging: [
    'cutover_fleet_host_lagging',
    'gauge',
    '1 while a live host is behind its assignment of the service',
  ],
  generation: [
    'cutover_fleet_generation',
    'gauge',
    'The service fleet generation (grows with every rollout and rollback)',
  ],
  rollout: ['cutover_fleet_rollout', 'gauge', '1 for the phase of the service fleet rollout in progress'],
} as const;

/** `view` null: etcd could not be read (only cutover_fleet_etcd_up 0). */
export function fleetFamilies(view: FleetView | null): MetricFamily[] {
  const f = families(FAMILIES);
  f.etcd.samples.push({ labels: {}, value: view ? 1 : 0 });
  if (!view) return [f.etcd];
  for (const h of view.hosts) {
    f.leader.samples.push({ labels: { host: h.name }, value: view.leader === h.name ? 1 : 0 });
    f.up.samples.push({ labels: { host: h.name }, value: h.live ? 1 : 0 });
    f.drained.samples.push({ labels: { host: h.name }, value: h.drained ? 1 : 0 });
  }
  for (const s of view.services) {
    f.generation.samples.push({ labels: { service: s.name }, value: s.generation });
    if (s.rollout) f.rollout.samples.push({ labels: { service: s.name, phase: s.rollout.phase }, value: 1 });
    for (const h of view.hosts) {
      if (!s.assignments[h.name]) continue;
      f.lagging.samples.push({ labels: { host: h.name, service: s.name }, value: lagOf(h, s) ? 1 : 0 });
    }
  }
  return Object.values(f);
}
