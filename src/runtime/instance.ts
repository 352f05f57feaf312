/** The supervisor's record of one instance: its status, its current process and its timers. */
import type { ChildProcess } from 'node:child_process';
import { substitute } from '../config/template.ts';
import type { Logger } from '../log/logger.ts';
import { startLogRotation } from './instance-log.ts';
import type { ProcessProbes } from './probing.ts';
import type { InstanceSpec, InstanceStatus } from './types.ts';

/** What every instance shares with its supervisor. */
export interface SupervisorHost {
  log: Logger;
  /** Clock for the timestamps in InstanceStatus. Timers always use real time. */
  now: () => number;
  logCheckIntervalMs: number;
  stableResetMs: number;
  /** A status snapshot after phase, ready, pid, restarts, port or the last probe error changed. */
  changed: (status: InstanceStatus) => void;
}

/** One spawned process of an instance (an instance has a new one after each restart). */
export interface InstanceProcess {
  /** Undefined for an adopted process (started by an earlier controller). */
  child?: ChildProcess;
  /** Also the process group id: the process leads its own group. */
  pid: number;
  alive: boolean;
  exited: Promise<void>;
  probes: ProcessProbes;
  /** Set when liveness decided to kill this process. */
  killedForLiveness: boolean;
  /** Ever ready for stableResetMs without interruption. */
  stable: boolean;
}

export interface Instance {
  host: SupervisorHost;
  spec: InstanceSpec;
  status: InstanceStatus;
  log: Logger;
  command: string;
  env: NodeJS.ProcessEnv;
  /** The newest process (a restart replaces it). */
  proc?: InstanceProcess;
  /** Crashes since the instance was last stable; drives the backoff. */
  consecutiveCrashes: number;
  stopping: boolean;
  stopPromise?: Promise<void>;
  restartTimer?: NodeJS.Timeout;
  stableTimer?: NodeJS.Timeout;
  logTimer?: NodeJS.Timeout;
  /** Exit polling of an adopted process. */
  pollTimer?: NodeJS.Timeout;
}

export type StatusPatch = Partial<
  Omit<InstanceStatus, 'id' | 'service' | 'revision' | 'version' | 'createdAt'>
>;

/** A change of these is reported (the controller reconciles, the status stream shows it). */
const WATCHED: (keyof InstanceStatus)[] = ['phase', 'ready', 'pid', 'restarts', 'port', 'lastProbeError'];

/** The bookkeeping of an instance, before any process exists; its log rotation runs from now on. */
export function createInstance(
  host: SupervisorHost,
  spec: InstanceSpec,
  port: number,
  createdAt: number,
  restarts: number,
): Instance {
  const log = host.log.child({ service: spec.service, revision: spec.revision, instance: spec.id });
  const status: InstanceStatus = {
    id: spec.id,
    service: spec.service,
    revision: spec.revision,
    version: spec.version,
    port,
    phase: 'starting',
    ready: false,
    createdAt,
    restarts,
  };
  const vars: Record<string, string> = {
    PORT: String(port),
    INSTANCE: spec.id,
    SERVICE: spec.service,
    REVISION: String(spec.revision),
    VERSION: spec.version,
  };
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(spec.run.env)) env[k] = substitute(v, vars);
  env.PORT = String(port);
  env.CUTOVER_INSTANCE = spec.id;
  env.CUTOVER_SERVICE = spec.service;
  env.CUTOVER_REVISION = String(spec.revision);
  env.CUTOVER_VERSION = spec.version;
  return {
    host,
    spec,
    status,
    log,
    command: substitute(spec.run.command, vars),
    env,
    consecutiveCrashes: 0,
    stopping: false,
    logTimer: startLogRotation(spec.logFile, spec.logMaxBytes, host.logCheckIntervalMs, log),
  };
}

/** Applies `patch` (undefined deletes a field) and reports a snapshot when a watched field changed. */
export function updateStatus(inst: Instance, patch: StatusPatch): void {
  let changed = false;
  for (const key of Object.keys(patch) as (keyof StatusPatch)[]) {
    if (WATCHED.includes(key) && inst.status[key] !== patch[key]) changed = true;
  }
  Object.assign(inst.status, patch);
  for (const key of Object.keys(patch) as (keyof StatusPatch)[]) {
    if (patch[key] === undefined) delete inst.status[key];
  }
  if (changed) inst.host.changed(snapshot(inst));
}

export function snapshot(inst: Instance): InstanceStatus {
  const s = { ...inst.status };
  if (s.lastExit) s.lastExit = { ...s.lastExit };
  return s;
}

/** Whether `proc` is still the process to probe and supervise. */
export function isCurrent(inst: Instance, proc: InstanceProcess): boolean {
  return !inst.stopping && inst.proc === proc && proc.alive && !proc.killedForLiveness;
}

/** Ends the probes and the stable timer of the current process. */
export function clearProcTimers(inst: Instance): void {
  inst.proc?.probes.stop();
  clearTimeout(inst.stableTimer);
  inst.stableTimer = undefined;
}
