/**
 * The life of an instance's processes: spawn (`/bin/sh -c <command>` in its own process group),
 * notice the exit, restart a crashed one after the backoff, kill one that failed liveness, and
 * stop it for good (SIGTERM to the group, SIGKILL after the stop timeout).
 */
import type { ChildProcess } from 'node:child_process';
import { ranStably, restartDelayMs } from './backoff.ts';
import { clearProcTimers, type Instance, type InstanceProcess, isCurrent, updateStatus } from './instance.ts';
import { appendInstanceLog, withInstanceLog } from './instance-log.ts';
import { ProcessProbes } from './probing.ts';
import {
  processGroupAlive,
  signalGroup,
  spawnGroup,
  terminateGroup,
  waitGroupGone,
} from './process-group.ts';

/**
 * The shell must not die first on the group SIGTERM: that would orphan the service (its exit would
 * then be unobservable) and record the shell's signal instead of the service's exit. With a trap
 * (not an ignore: the service gets the default disposition back on exec) sh waits for the
 * foreground command and exits with its status — 0 after a graceful shutdown, 128+n after a signal.
 */
const SHELL_PRELUDE = "trap 'exit $?' TERM";

/** After SIGKILL, how long a group may take to vanish before the supervisor reports it. */
const KILLED_GROUP_REAP_MS = 2000;
/** How long the leftovers of an already-exited process may take to vanish after SIGKILL at stop. */
const LEFTOVER_REAP_MS = 1000;

/**
 * A new process record for `inst` (the caller makes it `inst.proc`), its probes wired to the instance's status.
 * `exited` resolves through the returned `markExited`, after `handleExit` ran.
 */
export function newProcess(
  inst: Instance,
  pid: number,
  opts: { child?: ChildProcess; readyAtStart: boolean },
): { proc: InstanceProcess; markExited: (code: number | null, signal: NodeJS.Signals | null) => void } {
  const { spec } = inst;
  let resolveExited!: () => void;
  const exited = new Promise<void>((r) => {
    resolveExited = r;
  });
  // The listener runs only from the probes' timers, after proc is assigned.
  const probes = new ProcessProbes(
    {
      port: inst.status.port,
      readiness: spec.readiness,
      liveness: spec.liveness,
      readyAtStart: opts.readyAtStart,
    },
    {
      active: () => isCurrent(inst, proc),
      failed: (error) => updateStatus(inst, { lastProbeError: error }),
      ready: () => onReady(inst, proc),
      notReady: (error) => {
        clearTimeout(inst.stableTimer);
        inst.log.warn('instance not ready', { pid: proc.pid, error });
        updateStatus(inst, { ready: false, readySince: undefined });
      },
      livenessFailed: (error, failures) => {
        inst.log.warn('liveness probe failed; restarting instance', { pid: proc.pid, error, failures });
        proc.killedForLiveness = true;
        clearProcTimers(inst);
        updateStatus(inst, { ready: false, readySince: undefined });
        // handleExit schedules the restart (with the crash backoff) once the process is gone.
        void terminate(inst, proc, spec.stopTimeoutMs);
      },
    },
  );
  const proc: InstanceProcess = {
    child: opts.child,
    pid,
    alive: true,
    exited,
    probes,
    killedForLiveness: false,
    stable: opts.readyAtStart,
  };
  const markExited = (code: number | null, signal: NodeJS.Signals | null) => {
    proc.alive = false;
    handleExit(inst, proc, code, signal);
    resolveExited();
  };
  return { proc, markExited };
}

function onReady(inst: Instance, proc: InstanceProcess): void {
  const { host } = inst;
  const now = host.now();
  inst.log.info('instance ready', { pid: proc.pid, port: inst.status.port });
  updateStatus(inst, { ready: true, readySince: now, phase: 'running' });
  inst.stableTimer = setTimeout(() => {
    if (isCurrent(inst, proc) && inst.status.ready) {
      proc.stable = true;
      inst.consecutiveCrashes = 0;
    }
  }, host.stableResetMs);
}

/** Spawns the next process of `inst` and starts probing it; a failure to spawn schedules a restart. */
export function spawnProcess(inst: Instance): void {
  const { spec, host } = inst;
  let child: ChildProcess;
  try {
    const startText = `starting instance ${spec.id} (${spec.service} r${spec.revision} ${spec.version}) port ${inst.status.port} restarts ${inst.status.restarts}`;
    child = withInstanceLog(spec.logFile, host.now(), startText, (fd) =>
      spawnGroup('/bin/sh', ['-c', `${SHELL_PRELUDE}\n${inst.command}`], {
        cwd: spec.run.cwd,
        env: inst.env,
        stdio: ['ignore', fd, fd],
      }),
    );
  } catch (err) {
    spawnFailed(inst, err);
    return;
  }
  if (child.pid === undefined) {
    // Asynchronous spawn failure (e.g. cwd missing): 'error' follows, 'exit' may not.
    child.once('error', (err) => spawnFailed(inst, err));
    return;
  }
  const { proc, markExited } = newProcess(inst, child.pid, { child, readyAtStart: false });
  inst.proc = proc;
  child.on('error', (err) => inst.log.warn('instance process error', { err }));
  child.once('exit', (code, signal) => markExited(code, signal));
  inst.log.info('instance process started', {
    pid: proc.pid,
    port: inst.status.port,
    restarts: inst.status.restarts,
  });
  updateStatus(inst, {
    phase: inst.stopping ? 'stopping' : 'starting',
    pid: proc.pid,
    ready: false,
    readySince: undefined,
    lastError: undefined,
  });
  proc.probes.scheduleReadiness(spec.readiness.initialDelayMs);
  proc.probes.delayLiveness();
}

function spawnFailed(inst: Instance, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  inst.log.error('could not start instance process', { err: message });
  inst.status.lastError = message;
  inst.status.lastExit = { code: null, signal: null, at: inst.host.now() };
  if (inst.stopping) return;
  scheduleRestart(inst);
}

function handleExit(
  inst: Instance,
  proc: InstanceProcess,
  code: number | null,
  signal: NodeJS.Signals | null,
): void {
  if (inst.proc !== proc) return;
  clearProcTimers(inst);
  const at = inst.host.now();
  inst.status.lastExit = { code, signal, at };
  appendInstanceLog(
    inst.spec.logFile,
    at,
    `instance ${inst.spec.id} pid ${proc.pid} exited code=${code} signal=${signal}`,
  );
  if (inst.stopping) {
    inst.log.info('instance process exited', { pid: proc.pid, code, signal });
    updateStatus(inst, { ready: false, readySince: undefined, pid: undefined });
    return;
  }
  // Exited on its own (or killed by liveness): leftovers of its group would hold the port.
  if (processGroupAlive(proc.pid)) {
    inst.log.warn('killing leftover processes of the exited instance', { pgid: proc.pid });
    signalGroup(proc.pid, 'SIGKILL');
  }
  if (ranStably(proc.stable, inst.status, at, inst.host.stableResetMs)) inst.consecutiveCrashes = 0;
  inst.log.warn(
    proc.killedForLiveness ? 'instance killed after failed liveness probes' : 'instance crashed',
    {
      pid: proc.pid,
      code,
      signal,
    },
  );
  updateStatus(inst, { ready: false, readySince: undefined, pid: undefined });
  scheduleRestart(inst);
}

function scheduleRestart(inst: Instance): void {
  inst.consecutiveCrashes++;
  const n = inst.consecutiveCrashes;
  const delay = restartDelayMs(n, inst.spec.restartBackoffMs, inst.spec.restartBackoffMaxMs);
  inst.log.info('restarting instance after backoff', { delayMs: delay, consecutiveCrashes: n });
  updateStatus(inst, { phase: 'backoff', ready: false, readySince: undefined, pid: undefined });
  clearTimeout(inst.restartTimer);
  inst.restartTimer = setTimeout(() => {
    inst.restartTimer = undefined;
    if (inst.stopping) return;
    inst.status.restarts++;
    spawnProcess(inst);
  }, delay);
}

/** SIGTERM the group, SIGKILL it after timeoutMs; resolves when the process and its group are gone. */
function terminate(inst: Instance, proc: InstanceProcess, timeoutMs: number): Promise<void> {
  const pgid = proc.pid;
  return terminateGroup(pgid, {
    graceMs: timeoutMs,
    reapMs: KILLED_GROUP_REAP_MS,
    leaderExited: proc.exited,
    onKill: () =>
      inst.log.warn('instance did not exit after SIGTERM; sending SIGKILL', {
        pid: pgid,
        stopTimeoutMs: timeoutMs,
      }),
  }).then((gone) => {
    if (!gone) inst.log.error('process group still present after SIGKILL', { pgid });
  });
}

/**
 * Stops `inst` for good: cancels a pending restart, terminates its process group and calls
 * `forget` just before the final `stopped` status.
 */
export async function stopInstance(inst: Instance, stopTimeoutMs: number, forget: () => void): Promise<void> {
  inst.stopping = true;
  clearProcTimers(inst);
  clearTimeout(inst.restartTimer);
  inst.restartTimer = undefined;
  inst.log.info('stopping instance', { pid: inst.proc?.alive ? inst.proc.pid : undefined, stopTimeoutMs });
  updateStatus(inst, { phase: 'stopping', ready: false, readySince: undefined });
  const proc = inst.proc;
  if (proc) {
    if (proc.alive) {
      await terminate(inst, proc, stopTimeoutMs);
    } else if (processGroupAlive(proc.pid)) {
      signalGroup(proc.pid, 'SIGKILL');
      await waitGroupGone(proc.pid, LEFTOVER_REAP_MS);
    }
  }
  clearInterval(inst.logTimer);
  inst.logTimer = undefined;
  forget();
  updateStatus(inst, { phase: 'stopped', ready: false, pid: undefined });
  inst.log.info('instance stopped', { lastExit: inst.status.lastExit });
}
