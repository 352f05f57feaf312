/**
 * Process groups: instances, hooks and the gateway master each run as their own group so that a
 * signal reaches every process they started (a shell's children, a server's workers) and a stray
 * background process cannot outlive them. The one place that spawns, signals, waits for and scans
 * (`/proc`) processes and process groups.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../util/sleep.ts';

/** How often a wait for a group's (or a process's) exit checks again. */
const EXIT_POLL_MS = 20;

/**
 * Spawns `command` as the leader of a new process group (pgid = its pid), which outlives us if we
 * die and which `signalGroup` reaches as a whole.
 */
export function spawnGroup(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return spawn(command, args, { ...options, detached: true });
}

/**
 * Sends `signal` to every process of group `pgid`; true when it was delivered (for signal 0: the
 * group exists, even if it is not ours).
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  return sendSignal(-pgid, signal);
}

/** Sends `signal` to the single process `pid` (not its group); true when it was delivered. */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0): boolean {
  return sendSignal(pid, signal);
}

function sendSignal(target: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (err) {
    // ESRCH: gone. EPERM: the group exists but is not ours (pid reuse) — leave it alone.
    return (err as NodeJS.ErrnoException).code === 'EPERM' && signal === 0;
  }
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

/** One process as `/proc/<pid>/stat` describes it. */
interface ProcessEntry {
  pid: number;
  /** `R`, `S`, `D`, `Z` (zombie), `X` (dead), ... */
  state: string;
  ppid: number;
  pgid: number;
}

/** A zombie (or dead) process holds no port, memory or file: it only waits to be reaped. */
function running(entry: ProcessEntry): boolean {
  return entry.state !== 'Z' && entry.state !== 'X';
}

/** `/proc/<pid>/stat` parsed, or undefined when the process is gone (or there is no procfs). */
function readProcessEntry(pid: number): ProcessEntry | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // pid (comm) state ppid pgrp ... — comm may contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0], ppid: Number(fields[1]), pgid: Number(fields[2]) };
}

/** Every process in `/proc` (read lazily: callers stop at the first match); undefined without procfs. */
function listProcesses(): Iterable<ProcessEntry> | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  return (function* () {
    for (const name of names) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const entry = readProcessEntry(Number(name));
      if (entry) yield entry; // else: exited meanwhile
    }
  })();
}

/** The environment (`NAME=value` entries) process `pid` started with, or undefined when unreadable. */
export function processEnvironment(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return undefined;
  }
}

/**
 * Pids of the running (not zombie) processes whose environment contains `entry` (`NAME=value`):
 * a marker is inherited by every descendant, whatever group it moved to.
 */
export function processesWithEnvironment(entry: string): number[] {
  const out: number[] = [];
  for (const p of listProcesses() ?? []) {
    if (running(p) && processEnvironment(p.pid)?.includes(entry)) out.push(p.pid);
  }
  return out;
}

/**
 * True while at least one process of group `pgid` is still running. Zombies do not count: orphaned
 * members are reparented to init, which may take a while to reap them (some container inits reap
 * only every second or two), and a zombie holds no port, memory or file.
 */
export function processGroupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  const all = listProcesses();
  if (all === undefined) return true;
  for (const p of all) if (p.pgid === pgid && running(p)) return true;
  return false;
}

/** Whether `pid` runs (a zombie does not: a process that is not our child may never be reaped by us). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // EPERM too: the pid was reused by a process that is not ours
  }
  const entry = readProcessEntry(pid);
  return entry === undefined ? true : entry.state !== 'Z'; // undefined: no procfs
}

/** Resolves true once no process of group `pgid` runs, false if some still run after `ms`. */
export async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  return waitUntil(() => !processGroupAlive(pgid), ms);
}

/** Resolves true once process `pid` no longer runs, false if it still runs after `ms`. */
export async function waitProcessGone(pid: number, ms: number): Promise<boolean> {
  return waitUntil(() => !processAlive(pid), ms);
}

async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + Math.max(0, ms);
  while (!done()) {
    if (Date.now() >= until) return false;
    await sleep(EXIT_POLL_MS);
  }
  return true;
}

export interface TerminateOptions {
  /** SIGTERM -> SIGKILL delay. */
  graceMs: number;
  /** After SIGKILL, how long to wait for the group to be gone before giving up. */
  reapMs: number;
  /** Resolves when the group's leader has exited (our child's 'exit'); the group is awaited after it. */
  leaderExited?: Promise<void>;
  /** Called just before SIGKILL is sent (the group outlived the grace). */
  onKill?: () => void;
}

/**
 * SIGTERM to the group, SIGKILL to what is left of it after the grace; resolves true once the
 * leader has exited and the whole group is gone, false if something survived SIGKILL for `reapMs`.
 */
export async function terminateGroup(pgid: number, opts: TerminateOptions): Promise<boolean> {
  const deadline = Date.now() + opts.graceMs;
  signalGroup(pgid, 'SIGTERM');
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    if (processGroupAlive(pgid)) {
      opts.onKill?.();
      signalGroup(pgid, 'SIGKILL');
    }
  };
  const timer = setTimeout(kill, opts.graceMs);
  try {
    await opts.leaderExited;
    // The leader is gone; wait for the rest of its group until the deadline.
    if (await waitGroupGone(pgid, deadline - Date.now())) return true;
    kill();
    return await waitGroupGone(pgid, opts.reapMs);
  } finally {
    clearTimeout(timer);
  }
}
