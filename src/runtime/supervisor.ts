import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.ts';
import { adoptProcess } from './adoption.ts';
import { DEFAULT_STABLE_RESET_MS } from './backoff.ts';
import { clearProcTimers, createInstance, type Instance, type SupervisorHost, snapshot } from './instance.ts';
import { spawnProcess, stopInstance } from './lifecycle.ts';
import { freePortSync } from './ports.ts';
import { processGroupAlive } from './process-group.ts';
import type { InstanceSpec, InstanceStatus } from './types.ts';

/** How often each instance's log file size is checked for copytruncate. */
const DEFAULT_LOG_CHECK_INTERVAL_MS = 1000;
/** Attempts at a port no other instance holds (one in backoff has no listener, so the kernel may reissue it). */
const PORT_ATTEMPTS = 20;

export interface SupervisorOptions {
  log: Logger;
  /** Clock for the timestamps in InstanceStatus (default Date.now). Timers always use real time. */
  now?: () => number;
  /** How often each instance's log file size is checked for copytruncate (default 1000 ms). */
  logCheckIntervalMs?: number;
  /** An instance that stayed up and ready this long resets its crash backoff (default 10 s). */
  stableResetMs?: number;
}

export interface SupervisorEvents {
  change: [InstanceStatus];
}

/**
 * Runs instances as process groups (`/bin/sh -c <command>`, detached), probes them, restarts
 * crashed ones with exponential backoff and stops them with SIGTERM -> SIGKILL. Emits
 * `change` with a status snapshot whenever phase, ready, pid, restarts, port or the last probe error change.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly host: SupervisorHost;
  private readonly instances = new Map<string, Instance>();

  constructor(opts: SupervisorOptions) {
    super();
    this.host = {
      log: opts.log,
      now: opts.now ?? Date.now,
      logCheckIntervalMs: opts.logCheckIntervalMs ?? DEFAULT_LOG_CHECK_INTERVAL_MS,
      stableResetMs: opts.stableResetMs ?? DEFAULT_STABLE_RESET_MS,
      changed: (status) => this.emit('change', status),
    };
  }

  /**
   * Allocates a port, spawns the instance and starts probing it; returns the initial status
   * (phase `starting`, or `backoff` if the spawn failed at once). Throws only for a duplicate id.
   * The instance is in `list()` as soon as this returns.
   */
  start(spec: InstanceSpec): InstanceStatus {
    if (this.instances.has(spec.id)) throw new Error(`instance ${spec.id} already exists`);
    // An instance in backoff has no listener, so the kernel may hand out its port again: skip ours.
    const taken = new Set([...this.instances.values()].map((i) => i.status.port));
    let port = freePortSync();
    for (let i = 0; i < PORT_ATTEMPTS && taken.has(port); i++) port = freePortSync();
    const inst = this.create(spec, port, this.host.now(), 0);
    spawnProcess(inst);
    return snapshot(inst);
  }

  /**
   * Takes over an instance a previous controller started (after a crash or `--keep-running`):
   * no restart. It is ready only if a readiness probe succeeds now — never assumed — and from
   * then on it is supervised like any other (its exit is noticed by polling its process group,
   * since it is not our child). Resolves undefined when its process group is gone.
   */
  async adopt(
    spec: InstanceSpec,
    found: { pid: number; port: number; createdAt: number; restarts?: number },
  ): Promise<InstanceStatus | undefined> {
    if (this.instances.has(spec.id)) throw new Error(`instance ${spec.id} already exists`);
    if (!processGroupAlive(found.pid)) return undefined;
    const inst = this.create(spec, found.port, found.createdAt, found.restarts ?? 0);
    await adoptProcess(inst, found.pid, found.port);
    return snapshot(inst);
  }

  /** The bookkeeping of an instance, in `list()` before any process exists. */
  private create(spec: InstanceSpec, port: number, createdAt: number, restarts: number): Instance {
    const inst = createInstance(this.host, spec, port, createdAt, restarts);
    this.instances.set(spec.id, inst);
    return inst;
  }

  get(id: string): InstanceStatus | undefined {
    const inst = this.instances.get(id);
    return inst ? snapshot(inst) : undefined;
  }

  list(): InstanceStatus[] {
    return [...this.instances.values()].map((i) => snapshot(i));
  }

  /** Process group ids of the live processes (pgid = pid of the spawned shell), for emergency cleanup. */
  pids(): number[] {
    const out: number[] = [];
    for (const inst of this.instances.values()) {
      // While stopping, the group may outlive its leader until the stop completes.
      if (inst.proc && (inst.proc.alive || inst.stopping)) out.push(inst.proc.pid);
    }
    return out;
  }

  /**
   * SIGTERM to the process group, SIGKILL to the group after `stopTimeoutMs`; resolves once the
   * process and the rest of its group are gone, then the instance is `stopped` and forgotten.
   * Cancels a pending crash restart. Idempotent; unknown ids resolve at once.
   */
  stop(id: string, stopTimeoutMs: number): Promise<void> {
    const inst = this.instances.get(id);
    if (!inst) return Promise.resolve();
    inst.stopPromise ??= stopInstance(inst, stopTimeoutMs, () => this.instances.delete(id));
    return inst.stopPromise;
  }

  /**
   * Lets go of every instance without stopping it (`cutover up --keep-running`): timers end,
   * processes keep running and can be adopted by the next controller.
   */
  detach(): void {
    for (const inst of this.instances.values()) {
      inst.stopping = true;
      clearProcTimers(inst);
      clearTimeout(inst.restartTimer);
      clearInterval(inst.logTimer);
      clearInterval(inst.pollTimer);
      inst.proc?.child?.removeAllListeners('exit');
      inst.proc?.child?.unref();
    }
    this.instances.clear();
  }

  async stopAll(stopTimeoutMs: number): Promise<void> {
    const ids = [...this.instances.keys()];
    await Promise.all(ids.map((id) => this.stop(id, stopTimeoutMs)));
  }
}
