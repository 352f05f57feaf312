/**
 * A fingerprint of what every host of a fleet must agree on: the services, how they run and how
 * they roll out. Host-specific parts (its name, address, ports, data dir) are left out, so the
 * same file at the same path on every host gives the same fingerprint.
 */
import { createHash } from 'node:crypto';
import type { CutoverConfig } from '../config/types.ts';

export function fleetConfigHash(config: CutoverConfig): string {
  const services = Object.values(config.services).map((s) => ({
    name: s.name,
    route: s.route,
    version: s.version,
    replicas: s.replicas,
    hosts: s.hosts,
    strategy: s.strategy,
    // The whole run spec: a host that would run a revision differently (another path) is reported.
    run: s.run,
    readiness: s.readiness,
  }));
  const cluster = config.cluster
    ? {
        prefix: config.cluster.prefix,
        leaseTtlMs: config.cluster.leaseTtlMs,
        onHostLost: config.cluster.onHostLost,
      }
    : null;
  return createHash('sha256').update(JSON.stringify({ services, cluster })).digest('hex').slice(0, 16);
}
