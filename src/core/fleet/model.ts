/**
 * The fleet's durable model: what every host of a service should run, the rollout across hosts
 * that changes it, and what each host reports back. Kept in etcd by the leading controller.
 */
import type { RunSpec } from '../../config/types.ts';
import type { ServicePhase } from '../model.ts';

/** What a host runs for a service: a version and its run spec (a revision, fleet-wide). */
export interface FleetTarget {
  version: string;
  run: RunSpec;
}

/** What one host is told to run, and under which fleet generation (one per fleet rollout). */
export interface Assignment {
  target: FleetTarget;
  generation: number;
  /** Blue-green: switch the host's traffic to its preview (every host at once, on the fleet's promote); `full` skips its analysis gate. */
  promote?: 'switch' | 'full';
  /** Canary: the host may run the steps with an index below this (see CanaryRollout.fleetStep). */
  canaryStep?: number;
}

export type FleetRolloutPhase = 'Progressing' | 'Paused' | 'RollingBack' | 'Succeeded' | 'RolledBack';

/** A rollout across hosts: waves of `waveSize` hosts, each running the per-host strategy. */
export interface FleetRollout {
  generation: number;
  kind: 'deploy' | 'undo';
  from: FleetTarget;
  to: FleetTarget;
  /** The service's hosts when the rollout started, in wave order. */
  hosts: string[];
  waveSize: number;
  /** Hosts whose per-host rollout to `to` succeeded. */
  done: string[];
  /** The wave in progress. */
  wave: string[];
  /** Hosts left out (lost with `onHostLost: continue`); they converge when they return. */
  skipped: string[];
  phase: FleetRolloutPhase;
  message: string;
  startedAt: number;
  finishedAt?: number;
  /** Why it is rolling back (a host's failure, a command). */
  reason?: string;
  /** A user paused it (`resume` continues); otherwise a pause is a lost host's. */
  pausedByUser?: boolean;
  /** Blue-green: since when every host's preview is ready (auto-promote counts from here). */
  previewsReadyAt?: number;
  /** Blue-green: every host was told to switch (`promote`, or auto-promote). */
  promoted?: 'switch' | 'full';
  /** Canary: the steps every host may run (those with an index below it); grows as the slowest host goes on. */
  canaryStep?: number;
}

/** The fleet's state of one service. `generation` grows with every rollout and rollback. */
export interface FleetServiceState {
  name: string;
  desired: FleetTarget;
  generation: number;
  assignments: Record<string, Assignment>;
  rollout?: FleetRollout;
  lastRollout?: FleetRollout;
}

/** What a host's agent reports of one service (under its leased heartbeat key). */
export interface HostServiceReport {
  /** The generation of the assignment the host acted on last. */
  generation: number;
  /** What the host serves as stable, and where a local rollout goes. */
  stable: FleetTarget;
  target: FleetTarget;
  phase: ServicePhase;
  /** Outcome of acting on `generation`: its local rollout still running, done, or failed. */
  outcome: 'progressing' | 'succeeded' | 'failed';
  message?: string;
  ready: number;
  total: number;
  /** Routing table version the host's gateway applied in every worker. */
  routesVersion: number;
  /** Blue-green: the host's preview side is complete and ready, waiting for the switch. */
  previewReady?: boolean;
  /** Canary: the step the host's local rollout is at (steps.length: its promotion). */
  canaryStep?: number;
}

/** A host's heartbeat. Absent (its lease expired) means the host is lost. */
export interface HostReport {
  host: string;
  advertise: string;
  controlPort: number;
  gatewayPort: number;
  startedAt: number;
  reportedAt: number;
  /** Taken out for maintenance (`cutover host drain`): its gateway fails its health check. */
  drained: boolean;
  /** Fingerprint of the host's config (src/fleet/config-hash.ts): hosts of a fleet must agree. */
  configHash: string;
  services: Record<string, HostServiceReport>;
}

/** What the fleet core needs of a service's config. */
export interface FleetServiceSpec {
  name: string;
  /** Resolved host list (config `hosts`, or every known host for `all`). */
  hosts: string[];
  /** Integer, or a percentage of the hosts ("50%"). */
  hostsAtOnce: number | string;
  onHostLost: 'pause' | 'continue';
  /** Rolling goes in waves; blue-green starts a preview on every host and switches them together. */
  strategy:
    | { type: 'rolling' }
    | { type: 'blueGreen'; autoPromote: boolean; autoPromoteAfterMs: number }
    | FleetCanarySpec;
}

/** Canary on every host at once, in step: what the leader needs of the steps. */
export interface FleetCanarySpec {
  type: 'canary';
  /** Number of steps. */
  steps: number;
  /** Indexes of the untimed pauses: every host waits there for the fleet's promote. */
  holds: number[];
}

export interface FleetEvent {
  service: string;
  type:
    | 'FleetRolloutStarted'
    | 'FleetWaveStarted'
    | 'FleetHostDone'
    | 'FleetRolloutPaused'
    | 'FleetRolloutResumed'
    | 'FleetRolloutSucceeded'
    | 'FleetPromoted'
    | 'FleetCanaryStep'
    | 'FleetRollingBack'
    | 'FleetRolledBack'
    | 'HostAssigned'
    | 'HostLost';
  host?: string;
  generation?: number;
  message: string;
}

export function sameTarget(a: FleetTarget, b: FleetTarget): boolean {
  return a.version === b.version && JSON.stringify(a.run) === JSON.stringify(b.run);
}
