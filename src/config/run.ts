/** `services.<name>.run`: the command of an instance, its working directory and environment. */
import { type Ctx, describe, get, isObj, type Path, report, setOwn } from './ctx.ts';
import * as D from './defaults.ts';
import { ENV_NAME_RE, RUN_KEYS } from './keys.ts';
import { readDir, readObj, readString, scalarText } from './read.ts';
import type { RunSpec } from './types.ts';

export function validateRun(ctx: Ctx, path: Path, raw: unknown): RunSpec {
  if (raw === undefined || raw === null) {
    report(ctx, path, 'is required (at least run.command)');
    return { command: '', cwd: ctx.baseDir, env: {} };
  }
  const o = readObj(ctx, path, raw, RUN_KEYS);
  if (o === undefined) return { command: '', cwd: ctx.baseDir, env: {} };
  const command = readString(ctx, o, path, 'command', undefined) ?? '';
  if (typeof get(o, 'command') === 'string' && command.trim() === '') {
    report(ctx, [...path, 'command'], 'must not be empty');
  }
  const cwd = readDir(ctx, o, path, 'cwd', D.DEFAULT_RUN_CWD);
  const env: Record<string, string> = {};
  const rawEnv = get(o, 'env');
  if (rawEnv !== undefined) {
    const envPath = [...path, 'env'];
    if (!isObj(rawEnv)) {
      report(ctx, envPath, `must be a mapping of NAME: value, ${describe(rawEnv)}`);
    } else {
      for (const [k, v] of Object.entries(rawEnv)) {
        const p = [...envPath, k];
        if (!ENV_NAME_RE.test(k)) {
          report(
            ctx,
            p,
            'is not a valid environment variable name (letters, digits and _, not starting with a digit)',
          );
        }
        const text = scalarText(ctx, p, v);
        if (text === undefined) {
          report(ctx, p, `must be a string, number or boolean (quote it; use "" for empty), ${describe(v)}`);
        } else if (text.includes('\0')) {
          report(ctx, p, 'must not contain NUL characters');
        } else {
          setOwn(env, k, text);
        }
      }
    }
  }
  return { command, cwd, env };
}
