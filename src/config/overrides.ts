/**
 * CLI `--set` overrides for a service's run spec: `run.command=...`, `run.cwd=...`,
 * `run.env.KEY=VALUE`. Everything after the first "=" is the value (it may contain "=").
 */
import { isAbsolute, resolve } from 'node:path';
import { setOwn } from './ctx.ts';
import { ENV_NAME_RE } from './keys.ts';
import { closest } from './suggest.ts';
import type { ConfigIssue, RunSpec } from './types.ts';

export type RunOverrideResult = { ok: true; run: RunSpec } | { ok: false; issues: ConfigIssue[] };

const SETTABLE = ['run.command', 'run.cwd', 'run.env'];

/**
 * Applies `--set` expressions to a copy of `run` (the input is never mutated). All problems are
 * reported, each with path `--set[i]`. A relative `run.cwd` resolves against `baseDir`
 * (default: the current directory, which is what a CLI user expects).
 */
export function applyRunOverrides(
  run: RunSpec,
  sets: readonly string[],
  baseDir: string = process.cwd(),
): RunOverrideResult {
  const next: RunSpec = { command: run.command, cwd: run.cwd, env: { ...run.env } };
  const issues: ConfigIssue[] = [];
  for (const [i, set] of sets.entries()) {
    const path = `--set[${i}]`;
    const fail = (message: string): void => {
      issues.push({ path, message });
    };
    if (typeof set !== 'string') {
      fail('must be a string KEY=VALUE');
      continue;
    }
    const eq = set.indexOf('=');
    if (eq < 0) {
      fail(`expected KEY=VALUE (e.g. run.env.LOG_LEVEL=debug), got ${JSON.stringify(set)}`);
      continue;
    }
    const key = set.slice(0, eq).trim();
    const value = set.slice(eq + 1);
    if (value.includes('\0')) {
      fail(`${key}: value must not contain NUL characters`);
      continue;
    }
    if (key === 'run.command') {
      if (value.trim() === '') {
        fail('run.command: must not be empty');
        continue;
      }
      next.command = value;
    } else if (key === 'run.cwd') {
      if (value.trim() === '') {
        fail('run.cwd: must not be empty');
        continue;
      }
      next.cwd = isAbsolute(value) ? resolve(value) : resolve(baseDir, value);
    } else if (key.startsWith('run.env.')) {
      const name = key.slice('run.env.'.length);
      if (!ENV_NAME_RE.test(name)) {
        fail(
          `${key}: "${name}" is not a valid environment variable name (letters, digits and _, not starting with a digit)`,
        );
        continue;
      }
      setOwn(next.env, name, value);
    } else {
      const asRun = `run.${key}`;
      const guess =
        asRun === 'run.command' || asRun === 'run.cwd' || asRun.startsWith('run.env.')
          ? asRun
          : closest(key, SETTABLE);
      const hint =
        guess === undefined ? '' : `; did you mean "${guess === 'run.env' ? 'run.env.NAME' : guess}"?`;
      fail(`unknown key "${key}"; only run.command, run.cwd and run.env.NAME can be set${hint}`);
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, run: next };
}
