import { HOOK_URL_VARS } from '../config/hooks.ts';
import { substitute } from '../config/template.ts';
import type { HookContext } from './types.ts';

/** The placeholders substituted in a hook's command and URL (and set in the command's environment). */
const HOOK_VARS: ReadonlySet<string> = new Set(HOOK_URL_VARS);

/**
 * Replaces `${SERVICE}`, `${REVISION}`, `${VERSION}` and `${TARGET_URL}` present in `vars`; anything
 * else (unknown names, names absent from `vars`, `$NAME` without braces) is left for the shell.
 * Substituted values are not rescanned.
 */
export function substituteHook(template: string, vars: Partial<Record<string, string>>): string {
  return substitute(template, vars, HOOK_VARS);
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
