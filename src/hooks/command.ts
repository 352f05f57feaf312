/**
 * A command hook: `/bin/sh -c <command>` in its own process group, which is signalled as a whole
 * on timeout/abort (SIGTERM, SIGKILL after the grace) and also after the shell exits, so a hook's
 * stray background processes are reaped too.
 */
import type { ChildProcess } from 'node:child_process';
import { formatDuration } from '../config/duration.ts';
import { spawnGroup, terminateGroup } from '../runtime/process-group.ts';
import { errorText } from '../util/error-text.ts';
import { sleep } from '../util/sleep.ts';
import { TailBuffer } from './tail-buffer.ts';
import type { HookContext, HookOutcome } from './types.ts';
import { hookVars, substituteHook } from './vars.ts';

/** Bytes of command output kept (the tail). */
export const COMMAND_OUTPUT_BYTES = 4096;
/** Grace between SIGTERM and SIGKILL of the hook's process group. */
export const KILL_GRACE_MS = 2000;
/** After SIGKILL, how long the group may take to vanish (zombies wait for their parent to reap them). */
const KILLED_GROUP_REAP_MS = 1000;
/** How long the output pipes may stay open once the group is gone (held by a process outside it). */
const PIPE_CLOSE_MS = 200;

function killGroup(pgid: number): Promise<unknown> {
  return terminateGroup(pgid, { graceMs: KILL_GRACE_MS, reapMs: KILLED_GROUP_REAP_MS });
}

export async function runCommand(command: string, timeoutMs: number, ctx: HookContext): Promise<HookOutcome> {
  const vars = hookVars(ctx);
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
  if (ctx.targetUrl === undefined) delete env.TARGET_URL;
  const script = substituteHook(command, vars);
  if (ctx.signal?.aborted) return { ok: false, output: '', error: 'aborted' };

  const out = new TailBuffer(COMMAND_OUTPUT_BYTES);
  let child: ChildProcess;
  try {
    child = spawnGroup('/bin/sh', ['-c', script], { cwd: ctx.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return { ok: false, output: '', error: errorText(err) };
  }
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => out.push(c));

  const pid = child.pid;
  let stopped: 'timeout' | 'aborted' | undefined;
  let killing: Promise<unknown> | undefined;
  const stop = (why: 'timeout' | 'aborted') => {
    if (stopped || pid === undefined) return;
    stopped = why;
    killing = killGroup(pid);
  };
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = () => stop('aborted');
  ctx.signal?.addEventListener('abort', onAbort, { once: true });

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    },
  );
  clearTimeout(timer);
  ctx.signal?.removeEventListener('abort', onAbort);

  // The shell is gone; its stray background processes (if any) must not outlive the hook.
  if (pid !== undefined) await (killing ?? killGroup(pid));
  // The pipes close once every holder is gone; do not wait forever for a holder outside the group.
  await Promise.race([
    Promise.all([streamClosed(child.stdout), streamClosed(child.stderr)]),
    sleep(PIPE_CLOSE_MS),
  ]);
  child.stdout?.destroy();
  child.stderr?.destroy();
  const output = out.text();

  if ('error' in exit) return { ok: false, output, error: errorText(exit.error) };
  if (stopped === 'timeout')
    return { ok: false, output, error: `timed out after ${formatDuration(timeoutMs)}` };
  if (stopped === 'aborted') return { ok: false, output, error: 'aborted' };
  if (exit.code === 0) return { ok: true, output };
  if (exit.code !== null) return { ok: false, output, error: `exit code ${exit.code}` };
  return { ok: false, output, error: `killed by ${exit.signal}` };
}

function streamClosed(s: NodeJS.ReadableStream | null): Promise<void> {
  if (!s) return Promise.resolve();
  const r = s as NodeJS.ReadableStream & { closed?: boolean; readableEnded?: boolean };
  if (r.closed || r.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    s.once('close', () => resolve());
    s.once('end', () => resolve());
  });
}
