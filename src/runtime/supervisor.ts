import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { copyFile, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { substitute } from '../config/template.ts';
import type { Logger } from '../log/logger.ts';
import { freePortSync } from './ports.ts';
import { ProbeThreshold, probeHttp } from './probe.ts';
import type { InstanceSpec, InstanceStatus } from './types.ts';

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

/** Sends `signal` to every process group in `pgids`, ignoring groups that are already gone. Returns the groups signalled. */
export function killProcessGroupsSync(pgids: number[], signal: NodeJS.Signals = 'SIGKILL'): number[] {
  const hit: number[] = [];
  for (const pgid of pgids) {
    if (!Number.isInteger(pgid) || pgid <= 1) continue;
    if (signalGroup(pgid, signal)) hit.push(pgid);
  }
  return hit;
}

/**
 * True while at least one process of group `pgid` is still running. Zombies do not count: orphaned
 * members are reparented to init, which may take a while to reap them (some container inits reap
 * only every second or two), and a zombie holds no port, memory or file.
 */
export function processGroupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp ... — comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    // ESRCH: gone. EPERM: the group exists but is not ours (pid reuse) — leave it alone.
    return (err as NodeJS.ErrnoException).code === 'EPERM' && signal === 0;
  }
}

/** How often an adopted (not our child) process group is checked for exit. */
const ADOPTED_POLL_MS = 250;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The shell must not die first on the group SIGTERM: that would orphan the service (its exit would
 * then be unobservable) and record the shell's signal instead of the service's exit. With a trap
 * (not an ignore: the service gets the default disposition back on exec) sh waits for the
 * foreground command and exits with its status — 0 after a graceful shutdown, 128+n after a signal.
 */
const SHELL_PRELUDE = "trap 'exit $?' TERM";

/** One spawned process of an instance (an instance has a new one after each restart). */
interface Proc {
  /** Undefined for an adopted process (started by an earlier controller). */
  child?: ChildProcess;
  pid: number;
  gen: number;
  alive: boolean;
  exited: Promise<void>;
  readiness: ProbeThreshold;
  liveness?: ProbeThreshold;
  livenessStarted: boolean;
  /** Set when liveness decided to kill this process. */
  killedForLiveness: boolean;
  /** Ever ready for stableResetMs without interruption. */
  stable: boolean;
}

interface Instance {
  spec: InstanceSpec;
  status: InstanceStatus;
  log: Logger;
  command: string;
  env: NodeJS.ProcessEnv;
  gen: number;
  proc?: Proc;
  /** Crashes since the instance was last stable; drives the backoff. */
  consecutiveCrashes: number;
  stopping: boolean;
  stopPromise?: Promise<void>;
  readinessTimer?: NodeJS.Timeout;
  livenessTimer?: NodeJS.Timeout;
  livenessDelayTimer?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
  stableTimer?: NodeJS.Timeout;
  logTimer?: NodeJS.Timeout;
  /** Exit polling of an adopted process. */
  pollTimer?: NodeJS.Timeout;
  rotating: boolean;
}

type Patch = Partial<Omit<InstanceStatus, 'id' | 'service' | 'revision' | 'version' | 'createdAt'>>;

const WATCHED: (keyof InstanceStatus)[] = ['phase', 'ready', 'pid', 'restarts', 'port', 'lastProbeError'];

/**
 * Runs instances as process groups (`/bin/sh -c <command>`, detached), probes them, restarts
 * crashed ones with exponential backoff and stops them with SIGTERM -> SIGKILL. Emits
 * `change` with a status snapshot whenever phase, ready, pid, restarts, port or the last probe error change.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly logCheckIntervalMs: number;
  private readonly stableResetMs: number;
  private readonly instances = new Map<string, Instance>();

  constructor(opts: SupervisorOptions) {
    super();
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.logCheckIntervalMs = opts.logCheckIntervalMs ?? 1000;
    this.stableResetMs = opts.stableResetMs ?? 10_000;
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
    for (let i = 0; i < 20 && taken.has(port); i++) port = freePortSync();
    const inst = this.create(spec, port, this.now(), 0);
    this.spawnProc(inst);
    return this.snapshot(inst);
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
    const first = await probeHttp(found.port, spec.readiness.path, spec.readiness.timeoutMs);
    const gen = ++inst.gen;
    let resolveExited!: () => void;
    const proc: Proc = {
      pid: found.pid,
      gen,
      alive: true,
      exited: new Promise<void>((r) => {
        resolveExited = r;
      }),
      readiness: new ProbeThreshold(
        spec.readiness.successThreshold,
        spec.readiness.failureThreshold,
        first.ok,
      ),
      liveness: spec.liveness
        ? new ProbeThreshold(spec.liveness.successThreshold, spec.liveness.failureThreshold, true)
        : undefined,
      livenessStarted: false,
      killedForLiveness: false,
      stable: first.ok,
    };
    inst.proc = proc;
    inst.pollTimer = setInterval(() => {
      if (processGroupAlive(proc.pid)) return;
      clearInterval(inst.pollTimer);
      inst.pollTimer = undefined;
      proc.alive = false;
      this.onExit(inst, proc, null, null);
      resolveExited();
    }, ADOPTED_POLL_MS);
    inst.log.info('instance adopted', {
      pid: proc.pid,
      port: found.port,
      ready: first.ok,
      error: first.error,
    });
    if (!first.ok) inst.status.lastProbeError = first.error;
    this.update(inst, {
      phase: first.ok ? 'running' : 'starting',
      pid: proc.pid,
      ready: first.ok,
      readySince: first.ok ? this.now() : undefined,
    });
    if (first.ok) this.startLiveness(inst, proc);
    this.scheduleReadiness(inst, proc, spec.readiness.intervalMs);
    return this.snapshot(inst);
  }

  /** The bookkeeping of an instance, before any process exists. */
  private create(spec: InstanceSpec, port: number, createdAt: number, restarts: number): Instance {
    const log = this.log.child({ service: spec.service, revision: spec.revision, instance: spec.id });
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
    const inst: Instance = {
      spec,
      status,
      log,
      command: substitute(spec.run.command, vars),
      env,
      gen: 0,
      consecutiveCrashes: 0,
      stopping: false,
      rotating: false,
    };
    this.instances.set(spec.id, inst);
    inst.logTimer = setInterval(() => void this.rotateLog(inst), this.logCheckIntervalMs);
    return inst;
  }

  get(id: string): InstanceStatus | undefined {
    const inst = this.instances.get(id);
    return inst ? this.snapshot(inst) : undefined;
  }

  list(): InstanceStatus[] {
    return [...this.instances.values()].map((i) => this.snapshot(i));
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
    inst.stopPromise ??= this.doStop(inst, stopTimeoutMs);
    return inst.stopPromise;
  }

  /**
   * Lets go of every instance without stopping it (`cutover up --keep-running`): timers end,
   * processes keep running and can be adopted by the next controller.
   */
  detach(): void {
    for (const inst of this.instances.values()) {
      inst.stopping = true;
      this.clearProcTimers(inst);
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

  // ---------------------------------------------------------------------------------------------

  private async doStop(inst: Instance, stopTimeoutMs: number): Promise<void> {
    inst.stopping = true;
    this.clearProcTimers(inst);
    clearTimeout(inst.restartTimer);
    inst.restartTimer = undefined;
    inst.log.info('stopping instance', { pid: inst.proc?.alive ? inst.proc.pid : undefined, stopTimeoutMs });
    this.update(inst, { phase: 'stopping', ready: false, readySince: undefined });
    const proc = inst.proc;
    if (proc) {
      if (proc.alive) {
        await this.terminate(inst, proc, stopTimeoutMs);
      } else if (processGroupAlive(proc.pid)) {
        signalGroup(proc.pid, 'SIGKILL');
        await this.waitGroupGone(proc.pid, 1000);
      }
    }
    clearInterval(inst.logTimer);
    inst.logTimer = undefined;
    this.instances.delete(inst.spec.id);
    this.update(inst, { phase: 'stopped', ready: false, pid: undefined });
    inst.log.info('instance stopped', { lastExit: inst.status.lastExit });
  }

  /** SIGTERM the group, SIGKILL it after timeoutMs; resolves when the process and its group are gone. */
  private async terminate(inst: Instance, proc: Proc, timeoutMs: number): Promise<void> {
    const pgid = proc.pid;
    const deadline = Date.now() + timeoutMs;
    signalGroup(pgid, 'SIGTERM');
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      if (processGroupAlive(pgid)) {
        inst.log.warn('instance did not exit after SIGTERM; sending SIGKILL', {
          pid: pgid,
          stopTimeoutMs: timeoutMs,
        });
        signalGroup(pgid, 'SIGKILL');
      }
    };
    const timer = setTimeout(kill, timeoutMs);
    try {
      await proc.exited;
      // The shell (or the program it exec'd) is gone; wait for the rest of its group until the deadline.
      if (!(await this.waitGroupGone(pgid, deadline - Date.now()))) {
        kill();
        if (!(await this.waitGroupGone(pgid, 2000))) {
          inst.log.error('process group still present after SIGKILL', { pgid });
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async waitGroupGone(pgid: number, ms: number): Promise<boolean> {
    const until = Date.now() + Math.max(0, ms);
    while (processGroupAlive(pgid)) {
      if (Date.now() >= until) return false;
      await sleep(20);
    }
    return true;
  }

  private spawnProc(inst: Instance): void {
    const { spec } = inst;
    const gen = ++inst.gen;
    let child: ChildProcess;
    try {
      mkdirSync(dirname(spec.logFile), { recursive: true });
      const fd = openSync(spec.logFile, 'a');
      try {
        writeSync(
          fd,
          `[cutover] ${new Date(this.now()).toISOString()} starting instance ${spec.id} (${spec.service} r${spec.revision} ${spec.version}) port ${inst.status.port} restarts ${inst.status.restarts}\n`,
        );
        // stdout/stderr go straight to the file: the instance never writes into a pipe we own.
        child = spawn('/bin/sh', ['-c', `${SHELL_PRELUDE}\n${inst.command}`], {
          cwd: spec.run.cwd,
          env: inst.env,
          detached: true,
          stdio: ['ignore', fd, fd],
        });
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.spawnFailed(inst, err);
      return;
    }
    if (child.pid === undefined) {
      // Asynchronous spawn failure (e.g. cwd missing): 'error' follows, 'exit' may not.
      child.once('error', (err) => this.spawnFailed(inst, err));
      return;
    }
    let resolveExited!: () => void;
    const proc: Proc = {
      child,
      pid: child.pid,
      gen,
      alive: true,
      exited: new Promise<void>((r) => {
        resolveExited = r;
      }),
      readiness: new ProbeThreshold(spec.readiness.successThreshold, spec.readiness.failureThreshold, false),
      liveness: spec.liveness
        ? new ProbeThreshold(spec.liveness.successThreshold, spec.liveness.failureThreshold, true)
        : undefined,
      livenessStarted: false,
      killedForLiveness: false,
      stable: false,
    };
    inst.proc = proc;
    child.on('error', (err) => inst.log.warn('instance process error', { err }));
    child.once('exit', (code, signal) => {
      proc.alive = false;
      this.onExit(inst, proc, code, signal);
      resolveExited();
    });
    inst.log.info('instance process started', {
      pid: proc.pid,
      port: inst.status.port,
      restarts: inst.status.restarts,
    });
    this.update(inst, {
      phase: inst.stopping ? 'stopping' : 'starting',
      pid: proc.pid,
      ready: false,
      readySince: undefined,
      lastError: undefined,
    });
    this.scheduleReadiness(inst, proc, spec.readiness.initialDelayMs);
    if (spec.liveness && spec.liveness.initialDelayMs > 0) {
      inst.livenessDelayTimer = setTimeout(
        () => this.startLiveness(inst, proc),
        spec.liveness.initialDelayMs,
      );
    }
  }

  private spawnFailed(inst: Instance, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    inst.log.error('could not start instance process', { err: message });
    inst.status.lastError = message;
    inst.status.lastExit = { code: null, signal: null, at: this.now() };
    if (inst.stopping) return;
    this.scheduleRestart(inst);
  }

  private onExit(inst: Instance, proc: Proc, code: number | null, signal: NodeJS.Signals | null): void {
    if (inst.proc !== proc) return;
    this.clearProcTimers(inst);
    const at = this.now();
    inst.status.lastExit = { code, signal, at };
    try {
      appendFileSync(
        inst.spec.logFile,
        `[cutover] ${new Date(at).toISOString()} instance ${inst.spec.id} pid ${proc.pid} exited code=${code} signal=${signal}\n`,
      );
    } catch {}
    if (inst.stopping) {
      inst.log.info('instance process exited', { pid: proc.pid, code, signal });
      this.update(inst, { ready: false, readySince: undefined, pid: undefined });
      return;
    }
    // Exited on its own (or killed by liveness): leftovers of its group would hold the port.
    if (processGroupAlive(proc.pid)) {
      inst.log.warn('killing leftover processes of the exited instance', { pgid: proc.pid });
      signalGroup(proc.pid, 'SIGKILL');
    }
    if (this.wasStable(inst, proc, at)) inst.consecutiveCrashes = 0;
    inst.log.warn(
      proc.killedForLiveness ? 'instance killed after failed liveness probes' : 'instance crashed',
      {
        pid: proc.pid,
        code,
        signal,
      },
    );
    this.update(inst, { ready: false, readySince: undefined, pid: undefined });
    this.scheduleRestart(inst);
  }

  private wasStable(inst: Instance, proc: Proc, at: number): boolean {
    if (proc.stable) return true;
    const since = inst.status.readySince;
    return inst.status.ready && since !== undefined && at - since >= this.stableResetMs;
  }

  private scheduleRestart(inst: Instance): void {
    inst.consecutiveCrashes++;
    const n = inst.consecutiveCrashes;
    const delay = Math.min(inst.spec.restartBackoffMs * 2 ** (n - 1), inst.spec.restartBackoffMaxMs);
    inst.log.info('restarting instance after backoff', { delayMs: delay, consecutiveCrashes: n });
    this.update(inst, { phase: 'backoff', ready: false, readySince: undefined, pid: undefined });
    clearTimeout(inst.restartTimer);
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      if (inst.stopping) return;
      inst.status.restarts++;
      this.spawnProc(inst);
    }, delay);
  }

  private clearProcTimers(inst: Instance): void {
    clearTimeout(inst.readinessTimer);
    clearTimeout(inst.livenessTimer);
    clearTimeout(inst.livenessDelayTimer);
    clearTimeout(inst.stableTimer);
    inst.readinessTimer = inst.livenessTimer = inst.livenessDelayTimer = inst.stableTimer = undefined;
  }

  private current(inst: Instance, proc: Proc): boolean {
    return (
      !inst.stopping && inst.proc === proc && proc.alive && !proc.killedForLiveness && inst.gen === proc.gen
    );
  }

  private scheduleReadiness(inst: Instance, proc: Proc, delay: number): void {
    const cfg = inst.spec.readiness;
    inst.readinessTimer = setTimeout(async () => {
      if (!this.current(inst, proc)) return;
      const r = await probeHttp(inst.status.port, cfg.path, cfg.timeoutMs);
      if (!this.current(inst, proc)) return;
      if (!r.ok) this.update(inst, { lastProbeError: r.error });
      if (proc.readiness.record(r.ok)) {
        if (proc.readiness.value) {
          const now = this.now();
          inst.log.info('instance ready', { pid: proc.pid, port: inst.status.port });
          this.update(inst, { ready: true, readySince: now, phase: 'running' });
          this.startLiveness(inst, proc);
          inst.stableTimer = setTimeout(() => {
            if (this.current(inst, proc) && inst.status.ready) {
              proc.stable = true;
              inst.consecutiveCrashes = 0;
            }
          }, this.stableResetMs);
        } else {
          clearTimeout(inst.stableTimer);
          inst.log.warn('instance not ready', { pid: proc.pid, error: r.error });
          this.update(inst, { ready: false, readySince: undefined });
        }
      }
      this.scheduleReadiness(inst, proc, cfg.intervalMs);
    }, delay);
  }

  /** Liveness runs from the first ready (or from liveness.initialDelayMs when that is set), never before. */
  private startLiveness(inst: Instance, proc: Proc): void {
    if (!inst.spec.liveness || proc.livenessStarted || !this.current(inst, proc)) return;
    proc.livenessStarted = true;
    clearTimeout(inst.livenessDelayTimer);
    inst.livenessDelayTimer = undefined;
    this.scheduleLiveness(inst, proc, inst.spec.liveness.intervalMs);
  }

  private scheduleLiveness(inst: Instance, proc: Proc, delay: number): void {
    const cfg = inst.spec.liveness;
    if (!cfg || !proc.liveness) return;
    const threshold = proc.liveness;
    inst.livenessTimer = setTimeout(async () => {
      if (!this.current(inst, proc)) return;
      const r = await probeHttp(inst.status.port, cfg.path, cfg.timeoutMs);
      if (!this.current(inst, proc)) return;
      if (!r.ok) this.update(inst, { lastProbeError: r.error });
      if (threshold.record(r.ok) && !threshold.value) {
        inst.log.warn('liveness probe failed; restarting instance', {
          pid: proc.pid,
          error: r.error,
          failures: threshold.failures,
        });
        proc.killedForLiveness = true;
        this.clearProcTimers(inst);
        this.update(inst, { ready: false, readySince: undefined });
        // onExit schedules the restart (with the crash backoff) once the process is gone.
        void this.terminate(inst, proc, inst.spec.stopTimeoutMs);
        return;
      }
      this.scheduleLiveness(inst, proc, cfg.intervalMs);
    }, delay);
  }

  /** copytruncate: the instance keeps appending to the same (O_APPEND) fd, so truncation is safe. */
  private async rotateLog(inst: Instance): Promise<void> {
    if (inst.rotating) return;
    inst.rotating = true;
    const file = inst.spec.logFile;
    try {
      const st = await stat(file);
      if (st.size > inst.spec.logMaxBytes) {
        await copyFile(file, `${file}.1`);
        await truncate(file, 0);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        inst.log.warn('log rotation failed', { file, err: err as Error });
      }
    } finally {
      inst.rotating = false;
    }
  }

  private update(inst: Instance, patch: Patch): void {
    let changed = false;
    for (const key of Object.keys(patch) as (keyof Patch)[]) {
      if (WATCHED.includes(key) && inst.status[key] !== patch[key]) changed = true;
    }
    Object.assign(inst.status, patch);
    for (const key of Object.keys(patch) as (keyof Patch)[]) {
      if (patch[key] === undefined) delete inst.status[key];
    }
    if (changed) this.emit('change', this.snapshot(inst));
  }

  private snapshot(inst: Instance): InstanceStatus {
    const s = { ...inst.status };
    if (s.lastExit) s.lastExit = { ...s.lastExit };
    return s;
  }
}
