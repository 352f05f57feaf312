/**
 * Rollout hooks: a shell command or an HTTP check (see `HookConfig` in src/config/types.ts).
 *
 * `runHook` never throws and never leaves a process behind: the command runs in its own process
 * group, which is signalled as a whole on timeout/abort (SIGTERM, SIGKILL after 2 s) and also after
 * the shell exits (so a hook's stray background processes are reaped too).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { HookConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { processGroupAlive } from '../runtime/process-group.ts';

export interface HookContext {
  service: string;
  revision: number;
  version: string;
  /** `http://127.0.0.1:PORT` of a ready instance of the new revision (absent for preRollout). */
  targetUrl?: string;
  /** Working directory of the command (the service's `run.cwd`). */
  cwd: string;
  log: Logger;
  /** Aborting kills the command (like a timeout) / cancels the request; the result is not ok. */
  signal?: AbortSignal;
}

export interface HookResult {
  ok: boolean;
  /** Command: the last 4 KB of stdout+stderr. HTTP: the status line + the first 1 KB of the body. */
  output: string;
  durationMs: number;
  /** Why it failed: "timed out after 10s", "exit code 3", "GET http://..: 503", "GET http://..: ECONNREFUSED". */
  error?: string;
}

/** Bytes of command output kept (the tail). */
export const COMMAND_OUTPUT_BYTES = 4096;
/** Bytes of an HTTP response body kept (the head). */
export const HTTP_BODY_BYTES = 1024;
/** Grace between SIGTERM and SIGKILL of the hook's process group. */
export const KILL_GRACE_MS = 2000;

const HOOK_VARS = new Set(['SERVICE', 'REVISION', 'VERSION', 'TARGET_URL']);
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${SERVICE}`, `${REVISION}`, `${VERSION}` and `${TARGET_URL}` present in `vars`; anything
 * else (unknown names, names absent from `vars`, `$NAME` without braces) is left for the shell.
 * Substituted values are not rescanned.
 */
export function substituteHook(template: string, vars: Partial<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (!HOOK_VARS.has(name)) return whole;
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    return value === undefined ? whole : value;
  });
}

/** The placeholder / environment values of a hook run. */
export function hookVars(ctx: Pick<HookContext, 'service' | 'revision' | 'version' | 'targetUrl'>) {
  const vars: Record<string, string> = {
    SERVICE: ctx.service,
    REVISION: String(ctx.revision),
    VERSION: ctx.version,
  };
  if (ctx.targetUrl !== undefined) vars.TARGET_URL = ctx.targetUrl;
  return vars;
}

/** "500ms", "2s", "1.5s", "2m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 100) / 10}s`;
}

/** Runs one hook. Never throws. */
export async function runHook(hook: HookConfig, ctx: HookContext): Promise<HookResult> {
  const started = performance.now();
  const log = ctx.log.child({ service: ctx.service, revision: ctx.revision });
  let result: Omit<HookResult, 'durationMs'>;
  try {
    if (hook.command !== undefined) result = await runCommand(hook.command, hook.timeoutMs, ctx);
    else if (hook.http !== undefined) result = await runHttp(hook.http, hook.timeoutMs, ctx);
    else result = { ok: false, output: '', error: 'hook has neither command nor http' };
  } catch (err) {
    result = { ok: false, output: '', error: errorText(err) };
  }
  const durationMs = Math.round(performance.now() - started);
  const kind = hook.command !== undefined ? 'command' : 'http';
  if (result.ok) log.info('hook succeeded', { hook: kind, durationMs });
  else
    log.warn('hook failed', {
      hook: kind,
      durationMs,
      error: result.error,
      output: result.output.slice(-512),
    });
  return { ...result, durationMs };
}

// ---------------------------------------------------------------------------------------------
// command

/** Keeps the last `limit` bytes written. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > this.limit * 2) this.compact();
  }
  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const tail = all.subarray(Math.max(0, all.length - this.limit));
    this.chunks = [Buffer.from(tail)];
    this.size = tail.length;
  }
  text(): string {
    this.compact();
    let buf = this.chunks[0] ?? Buffer.alloc(0);
    // Do not start in the middle of a UTF-8 sequence.
    let skip = 0;
    while (skip < buf.length && skip < 3 && (buf[skip] & 0xc0) === 0x80) skip++;
    if (skip > 0) buf = buf.subarray(skip);
    return buf.toString('utf8');
  }
}

/** Live (non-zombie) members left: orphans are reaped by init, which can be slow in containers. */
const groupAlive = processGroupAlive;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM to the group, SIGKILL after the grace if anything is left; resolves when the group is gone (bounded). */
async function killGroup(pgid: number, graceMs: number): Promise<void> {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && groupAlive(pgid)) await sleep(25);
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, 'SIGKILL');
  // Zombies keep the group "alive" for kill(0) until their parent reaps them: bounded wait.
  const reaped = Date.now() + 1000;
  while (Date.now() < reaped && groupAlive(pgid)) await sleep(25);
}

async function runCommand(
  command: string,
  timeoutMs: number,
  ctx: HookContext,
): Promise<Omit<HookResult, 'durationMs'>> {
  const vars = hookVars(ctx);
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
  if (ctx.targetUrl === undefined) delete env.TARGET_URL;
  const script = substituteHook(command, vars);
  if (ctx.signal?.aborted) return { ok: false, output: '', error: 'aborted' };

  const out = new TailBuffer(COMMAND_OUTPUT_BYTES);
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', script], {
      cwd: ctx.cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return { ok: false, output: '', error: errorText(err) };
  }
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => out.push(c));

  const pid = child.pid;
  let stopped: 'timeout' | 'aborted' | undefined;
  let killing: Promise<void> | undefined;
  const stop = (why: 'timeout' | 'aborted') => {
    if (stopped || pid === undefined) return;
    stopped = why;
    killing = killGroup(pid, KILL_GRACE_MS);
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
  if (pid !== undefined) await (killing ?? killGroup(pid, KILL_GRACE_MS));
  // The pipes close once every holder is gone; do not wait forever for a holder outside the group.
  await Promise.race([Promise.all([streamClosed(child.stdout), streamClosed(child.stderr)]), sleep(200)]);
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

// ---------------------------------------------------------------------------------------------
// http

async function runHttp(
  http: NonNullable<HookConfig['http']>,
  timeoutMs: number,
  ctx: HookContext,
): Promise<Omit<HookResult, 'durationMs'>> {
  const method = (http.method || 'GET').toUpperCase();
  const url = substituteHook(http.url, hookVars(ctx));
  const what = `${method} ${url}`;
  if (ctx.signal?.aborted) return { ok: false, output: '', error: 'aborted' };
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
  const failure = (err: unknown): Omit<HookResult, 'durationMs'> => {
    if (timeout.aborted)
      return { ok: false, output: '', error: `timed out after ${formatDuration(timeoutMs)}` };
    if (ctx.signal?.aborted) return { ok: false, output: '', error: 'aborted' };
    return { ok: false, output: '', error: `${what}: ${errorText(err)}` };
  };
  let res: Response;
  try {
    // No redirects followed: the status compared is the one the target answered.
    res = await fetch(url, { method, signal, redirect: 'manual', headers: { 'user-agent': 'cutover-hook' } });
  } catch (err) {
    return failure(err);
  }
  let body = '';
  try {
    body = await readHead(res, HTTP_BODY_BYTES);
  } catch (err) {
    if (timeout.aborted || ctx.signal?.aborted) return failure(err);
    // A body that breaks off after the status does not change the verdict.
  }
  const statusLine = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  const output = body ? `${statusLine}\n${body}` : statusLine;
  const ok =
    http.expectStatus !== undefined
      ? res.status === http.expectStatus
      : res.status >= 200 && res.status < 300;
  if (ok) return { ok, output };
  const expected = http.expectStatus !== undefined ? ` (expected ${http.expectStatus})` : '';
  return { ok, output, error: `${what}: ${res.status}${expected}` };
}

/** The first `limit` bytes of the body; the rest is not read. */
async function readHead(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const buf = Buffer.concat(chunks).subarray(0, limit);
  return buf.toString('utf8');
}

/** "ECONNREFUSED", "ENOENT", or the message; looks through fetch's `cause` and AggregateErrors. */
export function errorText(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = (errors[0] as { code?: unknown }).code;
      if (typeof inner === 'string') return inner;
    }
    const cause = (e as { cause?: unknown }).cause;
    if (!cause) break;
    e = cause;
  }
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && err.message === 'fetch failed') return cause.message;
    return err.message;
  }
  return String(err);
}
