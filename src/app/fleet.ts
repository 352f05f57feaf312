/**
 * Fleet mode's part of `cutover up` (a `cluster:` section): the etcd client, this host's
 * agent loop, and the controller candidate that leads the fleet when elected.
 */

import { readFileSync } from 'node:fs';
import { fleetRoutes } from '../api/fleet-routes.ts';
import { fleetSecurityRoutes } from '../api/fleet-security-routes.ts';
import type { Security } from '../api/guard.ts';
import { gatewayMetrics } from '../api/metrics.ts';
import type { Route } from '../api/routes.ts';
import type { CutoverConfig } from '../config/types.ts';
import type { Controller } from '../controller/controller.ts';
import { FleetAudit } from '../fleet/audit.ts';
import { FleetClient } from '../fleet/client.ts';
import { fleetConfigHash } from '../fleet/config-hash.ts';
import { HostAgentLoop } from '../fleet/host-agent.ts';
import { FleetKeys } from '../fleet/keys.ts';
import { FleetLeader } from '../fleet/leader.ts';
import { Leadership } from '../fleet/leadership.ts';
import { PeerTraffic } from '../fleet/peer-traffic.ts';
import { FleetTokens } from '../fleet/tokens.ts';
import type { Logger } from '../log/logger.ts';
import { EtcdClient } from '../store/etcd/client.ts';
import { StartupError } from './startup-error.ts';

export interface FleetHandle {
  client: EtcdClient;
  keys: FleetKeys;
  /** The fleet's API routes for this host's controller; fleet tokens go into `security`. */
  routes: (c: Controller, security: Security) => Route[];
  /** The fleet's tokens and audit chain, once `routes` was given the API's security. */
  tokens?: FleetTokens;
  audit?: FleetAudit;
  log: Logger;
}

export interface FleetMember {
  /** Leaves the fleet: the host's heartbeat goes at once, a leading controller hands over. */
  leave(): Promise<void>;
}

const read = (file: string | undefined) => (file ? readFileSync(file, 'utf8') : undefined);

/** Connects to etcd; throws (naming the endpoints) when none answers. */
export async function openFleet(config: CutoverConfig, log: Logger): Promise<FleetHandle> {
  const cl = config.cluster!;
  const client = new EtcdClient({
    endpoints: cl.etcd.endpoints,
    username: cl.etcd.username,
    password: cl.etcd.password,
    tls: cl.etcd.tls
      ? { ca: read(cl.etcd.tls.ca), cert: read(cl.etcd.tls.cert), key: read(cl.etcd.tls.key) }
      : undefined,
    requestTimeoutMs: cl.etcd.dialTimeoutMs,
  });
  const keys = new FleetKeys(cl.prefix);
  try {
    await client.get(keys.leader);
  } catch (err) {
    await client.close().catch(() => {});
    throw new StartupError(
      `cluster.etcd: ${(err as Error).message}; start etcd or fix cluster.etcd.endpoints`,
    );
  }
  const fleetLog = log.child({ component: 'fleet', host: cl.host });
  const fleet = new FleetClient(client, keys);
  const handle: FleetHandle = {
    client,
    keys,
    log: fleetLog,
    routes: (c, security) => {
      handle.tokens = new FleetTokens({ client, keys, local: security.tokens, log: fleetLog });
      handle.audit = new FleetAudit({ client, keys, host: cl.host, local: security.audit, log: fleetLog });
      security.tokenWrites = handle.tokens;
      return [
        ...fleetSecurityRoutes(handle.audit, handle.tokens),
        ...fleetRoutes(
          () => config,
          fleet,
          () => gatewayMetrics(c),
        ),
      ];
    },
  };
  return handle;
}

/** The services this host runs: those whose `hosts` name it (or `all`). */
export function localServices(config: CutoverConfig): CutoverConfig {
  const host = config.cluster!.host;
  const services = Object.fromEntries(
    Object.entries(config.services)
      .filter(([, s]) => s.hosts === 'all' || s.hosts === undefined || s.hosts.includes(host))
      // The leader switches every host together (its own auto-promote); a host never switches alone.
      .map(([name, s]) => [
        name,
        s.strategy.type === 'blueGreen' ? { ...s, strategy: { ...s.strategy, autoPromote: false } } : s,
      ]),
  );
  return { ...config, services };
}

export async function joinFleet(
  handle: FleetHandle,
  opts: {
    config: CutoverConfig;
    controller: Controller;
    controlPort: number;
    setServing: (serving: boolean, reason?: string) => Promise<void>;
  },
): Promise<FleetMember> {
  const cl = opts.config.cluster!;
  const ttlSeconds = Math.round(cl.leaseTtlMs / 1000);
  const agent = new HostAgentLoop({
    client: handle.client,
    keys: handle.keys,
    identity: {
      host: cl.host,
      advertise: cl.advertise,
      controlPort: opts.controlPort,
      gatewayPort: opts.config.gateway.listen.port,
      configHash: fleetConfigHash(opts.config),
    },
    controller: opts.controller,
    log: handle.log,
    ttlSeconds,
    dataDir: opts.config.control.dataDir,
    setServing: opts.setServing,
  });
  await agent.start();
  await handle.tokens?.start();
  handle.audit?.start();
  const traffic = new PeerTraffic({
    client: handle.client,
    keys: handle.keys,
    host: cl.host,
    controller: opts.controller,
    log: handle.log,
    lease: () => agent.currentLease(),
    generationOf: (service) => agent.followedGeneration(service),
  });
  await traffic.start();
  const leadership = new Leadership({
    client: handle.client,
    key: handle.keys.leader,
    candidate: cl.host,
    ttlSeconds,
    log: handle.log,
  });
  const leader = new FleetLeader({
    client: handle.client,
    keys: handle.keys,
    leadership,
    config: opts.config,
    host: cl.host,
    log: handle.log,
  });
  leadership.on('elected', () => handle.log.info('this host leads the fleet', { host: cl.host }));
  leadership.on('deposed', () => handle.log.warn('this host no longer leads the fleet', { host: cl.host }));
  leadership.start();
  leader.start();
  return {
    async leave() {
      leader.stop();
      traffic.stop();
      handle.tokens?.stop();
      handle.audit?.stop();
      // The last entries (this very stop's requests included) join the fleet chain if etcd is there.
      await handle.audit?.ship().catch(() => {});
      await leadership.resign().catch(() => {});
      await agent.stop();
      await handle.client.close().catch(() => {});
    },
  };
}
