// biome-ignore-all lint/suspicious/noTemplateCurlyInString: messages name literal ${NAME} placeholders
/** `services.<name>.hooks`: commands or HTTP checks around a rollout. */

import { type Ctx, describe, get, isObj, type Obj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { HTTP_TOKEN_RE } from './keys.ts';
import { readDuration, readObj } from './read.ts';
import { didYouMean } from './suggest.ts';
import type { HookConfig, HooksConfig } from './types.ts';

export const HOOK_NAMES = ['preRollout', 'prePromotion', 'postPromotion'] as const;
export const HOOK_KEYS = ['command', 'http', 'timeout'] as const;
export const HOOK_HTTP_KEYS = ['url', 'method', 'expectStatus'] as const;
/** Placeholders allowed in `http.url` (substituted when the hook runs). */
export const HOOK_URL_VARS = ['TARGET_URL', 'SERVICE', 'REVISION', 'VERSION'] as const;

const HOOK_HINT = 'command: "./migrate.sh" or http: { url: "${TARGET_URL}/smoke" }';

/** Checks an http(s) URL; `vars` placeholders (`${NAME}`) are allowed. Returns an error or undefined. */
export function checkHttpUrl(raw: unknown, vars: readonly string[] = []): string | undefined {
  if (typeof raw !== 'string') return `must be an http:// or https:// URL, ${describe(raw)}`;
  for (const m of raw.matchAll(/\$\{([^}]*)\}/g)) {
    if (!vars.includes(m[1])) {
      const known = vars.length ? ` (known: ${vars.map((v) => `\${${v}}`).join(', ')})` : '';
      return `unknown placeholder \${${m[1]}}${didYouMean(m[1], vars)}${known}`;
    }
  }
  // ${TARGET_URL} is a whole origin (http://127.0.0.1:PORT); the others are plain text.
  const probe = raw.replace(/\$\{TARGET_URL\}/g, 'http://127.0.0.1:1').replace(/\$\{[^}]*\}/g, 'x');
  let u: URL | undefined;
  try {
    u = /\s/.test(probe) ? undefined : new URL(probe);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    const allowed = vars.includes('TARGET_URL') ? ' (or "${TARGET_URL}/path")' : '';
    return `must be an http:// or https:// URL${allowed}, ${describe(raw)}`;
  }
  return undefined;
}

/** preRollout runs before any instance of the new revision exists: there is no TARGET_URL yet. */
const PRE_ROLLOUT_URL_VARS = HOOK_URL_VARS.filter((v) => v !== 'TARGET_URL');

function validateHttp(ctx: Ctx, path: Path, raw: unknown, vars: readonly string[]): HookConfig['http'] {
  if (!isObj(raw)) {
    report(ctx, path, `must be a mapping with url (and optionally method, expectStatus), ${describe(raw)}`);
    return undefined;
  }
  const o = readObj(ctx, path, raw, HOOK_HTTP_KEYS);
  if (o === undefined) return undefined;
  let ok = true;
  const url = get(o, 'url');
  if (url === undefined) {
    report(ctx, [...path, 'url'], 'is required (e.g. "${TARGET_URL}/smoke")');
    ok = false;
  } else {
    let error = checkHttpUrl(url, vars);
    if (error && !vars.includes('TARGET_URL') && typeof url === 'string' && url.includes('${TARGET_URL}')) {
      error = 'must not use ${TARGET_URL}: preRollout runs before any instance of the new revision starts';
    }
    if (error) {
      report(ctx, [...path, 'url'], error);
      ok = false;
    }
  }
  const method = get(o, 'method') ?? D.DEFAULT_HOOK_METHOD;
  if (typeof method !== 'string' || !HTTP_TOKEN_RE.test(method)) {
    report(ctx, [...path, 'method'], `must be an HTTP method such as GET or POST, ${describe(method)}`);
    ok = false;
  }
  const http: NonNullable<HookConfig['http']> = {
    url: typeof url === 'string' ? url : '',
    method: typeof method === 'string' ? method.toUpperCase() : D.DEFAULT_HOOK_METHOD,
  };
  const status = get(o, 'expectStatus');
  if (status !== undefined) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      report(
        ctx,
        [...path, 'expectStatus'],
        `must be an HTTP status between 100 and 599, ${describe(status)}`,
      );
      ok = false;
    } else {
      http.expectStatus = status;
    }
  }
  return ok ? http : undefined;
}

function validateHook(
  ctx: Ctx,
  path: Path,
  raw: unknown,
  name: (typeof HOOK_NAMES)[number],
): HookConfig | undefined {
  if (!isObj(raw)) {
    report(ctx, path, `must be a mapping with ${HOOK_HINT}, ${describe(raw)}`);
    return undefined;
  }
  const o = readObj(ctx, path, raw, HOOK_KEYS);
  if (o === undefined) return undefined;
  const timeoutMs = readDuration(ctx, o, path, 'timeout', D.DEFAULT_HOOK_TIMEOUT);
  const command = get(o, 'command');
  const http = get(o, 'http');
  if (command !== undefined && http !== undefined) {
    report(ctx, path, 'has command and http: exactly one of them per hook');
    return undefined;
  }
  if (command === undefined && http === undefined) {
    report(ctx, path, `needs command or http (${HOOK_HINT})`);
    return undefined;
  }
  if (command !== undefined) {
    if (typeof command !== 'string' || command.trim() === '') {
      report(ctx, [...path, 'command'], `must be a non-empty shell command, ${describe(command)}`);
      return undefined;
    }
    return { command, timeoutMs };
  }
  const vars = name === 'preRollout' ? PRE_ROLLOUT_URL_VARS : HOOK_URL_VARS;
  const h = validateHttp(ctx, [...path, 'http'], http, vars);
  return h === undefined ? undefined : { http: h, timeoutMs };
}

export function validateHooksAt(ctx: Ctx, path: Path, raw: unknown): HooksConfig {
  const hooks: HooksConfig = {};
  if (raw !== undefined && !isObj(raw)) {
    report(ctx, path, `must be a mapping of ${HOOK_NAMES.join(', ')}, ${describe(raw)}`);
    return hooks;
  }
  const o: Obj = readObj(ctx, path, raw, HOOK_NAMES) ?? {};
  for (const name of HOOK_NAMES) {
    const rh = get(o, name);
    if (rh === undefined) continue;
    const hook = validateHook(ctx, [...path, name], rh, name);
    if (hook) hooks[name] = hook;
  }
  return hooks;
}
