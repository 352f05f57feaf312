/**
 * Rollout hooks: a shell command or an HTTP check (see `HookConfig` in src/config/types.ts).
 * `runHook` never throws and never leaves a process behind.
 */
import type { HookConfig } from '../config/types.ts';
import { errorText } from '../util/error-text.ts';
import { runCommand } from './command.ts';
import { runHttp } from './http.ts';
import type { HookContext, HookOutcome, HookResult } from './types.ts';

/** Runs one hook. Never throws. */
export async function runHook(hook: HookConfig, ctx: HookContext): Promise<HookResult> {
  const started = performance.now();
  const log = ctx.log.child({ service: ctx.service, revision: ctx.revision });
  let result: HookOutcome;
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
