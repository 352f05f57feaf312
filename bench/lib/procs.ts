/**
 * Child-process bookkeeping for the benchmark: every process is started in its own process group
 * (`detached: true`) so that stopping it also stops whatever it forked (nginx workers, gateway
 * workers), and every group still alive is killed when the benchmark ends, fails or is interrupted.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
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

  start(name: string, cmd: string, args: string[], opts: StartOptions = {}): Managed {
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
  async capture(name: string, cmd: string, args: string[], timeoutMs: number): Promise<CaptureResult> {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
    await Promise.all([...this.live].map((m) => this.stop(m)));
  }

  /** Last resort from a synchronous 'exit' handler. */
  killAllSync(): void {
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
