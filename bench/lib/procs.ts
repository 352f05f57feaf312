/**
 * Child-process bookkeeping for the benchmark: every process is started in its own process group
 * (`detached: true`) so that stopping it also stops whatever it forked (nginx workers, gateway
 * workers), and every group still alive is killed when the benchmark ends, fails or is interrupted.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

export interface Managed {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** File that receives stdout/stderr when they are not piped, for error messages. */
  logFile?: string;
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Send stdout+stderr to this file instead of piping them (keeps the benchmark process idle). */
  logFile?: string;
  /** Pipe stdout to the caller (stderr still goes to logFile when given). */
  pipeStdout?: boolean;
}

export interface CaptureResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

export class Procs {
  private readonly live = new Set<Managed>();
  /** Set once shutdown began: no new process may start after that. */
  private closed = false;

  start(name: string, cmd: string, args: string[], opts: StartOptions = {}): Managed {
    if (this.closed) throw new Error(`not starting ${name}: shutting down`);
    let fd: number | undefined;
    if (opts.logFile) fd = openSync(opts.logFile, 'a');
    const out = opts.pipeStdout ? 'pipe' : (fd ?? 'ignore');
    const err = fd ?? 'ignore';
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, err],
    });
    if (fd !== undefined) closeSync(fd);
    const managed: Managed = {
      name,
      child,
      logFile: opts.logFile,
      exited: new Promise((resolve) => {
        child.once('error', () => resolve('spawn-error'));
        child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      }),
    };
    this.live.add(managed);
    void managed.exited.then(() => this.live.delete(managed));
    return managed;
  }

  /** Runs a command to completion, capturing its output (still killed on interrupt). */
  async capture(
    name: string,
    cmd: string,
    args: string[],
    timeoutMs: number,
    onSpawn?: (pid: number) => void,
  ): Promise<CaptureResult> {
    if (this.closed) throw new Error(`not starting ${name}: shutting down`);
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    const managed: Managed = {
      name,
      child,
      exited: new Promise((resolve) => {
        child.once('error', () => resolve('spawn-error'));
        child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      }),
    };
    this.live.add(managed);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
    const code = await managed.exited;
    clearTimeout(timer);
    this.live.delete(managed);
    return { code, stdout, stderr };
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. */
  async stop(m: Managed, graceMs = 3000): Promise<void> {
    if (!this.live.has(m)) return;
    killGroup(m.child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(m.child, 'SIGKILL'), graceMs);
    await m.exited;
    clearTimeout(timer);
    // The leader may exit before its workers: make sure the whole group is gone.
    killGroup(m.child, 'SIGKILL');
    this.live.delete(m);
  }

  async stopAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.live].map((m) => this.stop(m)));
  }

  /** Last resort from a synchronous 'exit' handler. */
  killAllSync(): void {
    this.closed = true;
    for (const m of this.live) killGroup(m.child, 'SIGKILL');
    this.live.clear();
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export function tailOf(file: string | undefined, chars = 2000): string {
  if (!file) return '';
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-chars).trim();
  } catch {
    return '';
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let clockTicks: number | null = null;

/** Kernel clock ticks per second (USER_HZ), for /proc/<pid>/stat times. */
function ticksPerSecond(): number {
  if (clockTicks === null) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/**
 * CPU seconds (user + system) used so far by every live process in the process group `pgid`
 * (Linux /proc; 0 elsewhere). Sample before and after a run to get the group's CPU use.
 */
export function groupCpuSeconds(pgid: number | undefined): number {
  if (pgid === undefined) return 0;
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / ticksPerSecond();
}

/** Busy and total jiffies of all cores together, from /proc/stat (null where unavailable). */
export function machineJiffies(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Share of all cores busy (0-100) between two machineJiffies() samples. */
export function busyPercent(
  a: { busy: number; total: number } | null,
  b: { busy: number; total: number } | null,
): number | null {
  if (!a || !b || b.total === a.total) return null;
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100);
}

/** Share of all cores busy (0-100) over `ms`. */
export async function machineBusyPercent(ms: number): Promise<number | null> {
  const a = machineJiffies();
  await sleep(ms);
  return busyPercent(a, machineJiffies());
}
