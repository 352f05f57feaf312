import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { tryParseDuration } from '../config/duration.ts';
import { formatIssues, loadConfigFile } from '../config/load.ts';
import { setCredentials } from './client.ts';
import { EXIT, UsageError } from './exit.ts';
import { HELP } from './help.ts';

/** Options every command takes. */
const COMMON = {
  config: { type: 'string', short: 'c' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/**
 * Parses a command's arguments (its own options plus the common ones) strictly; records -c and
 * --token for the client. An unknown option is a usage error that shows the command's help.
 */
export function parse<O extends OptionSpec>(cmd: string, argv: string[], options: O) {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...COMMON, ...options },
      allowPositionals: true,
      strict: true,
    });
    const v = parsed.values as { config?: string; token?: string };
    setCredentials({ flag: v.token, configFile: v.config });
    return parsed;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP[cmd]}`);
  }
}

/** Prints a command's help; exit 0. */
export function help(cmd: string): number {
  process.stdout.write(`${HELP[cmd]}\n`);
  return EXIT.ok;
}

/** The controller's URL: CUTOVER_ADDR unless -c is given, else the config file's control.listen. */
export function resolveAddr(configPath: string | undefined): string {
  if (process.env.CUTOVER_ADDR && !configPath) return process.env.CUTOVER_ADDR;
  const file = configPath ?? 'cutover.yaml';
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    throw new UsageError(
      `cannot find the controller: ${file} is not usable (set -c FILE or CUTOVER_ADDR=host:port)\n${formatIssues(loaded.issues, file)}`,
    );
  }
  const listen = loaded.config.control.listen;
  return `${loaded.config.control.tls ? 'https' : 'http'}://${listen.host}:${listen.port}`;
}

/** A duration flag in milliseconds, written like a duration in the config file (30s, 10m, 1m30s). */
export function parseDurationArg(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = tryParseDuration(value);
  if (!parsed.ok) throw new UsageError(`${flag}: expected a duration like 30s or 10m, got "${value}"`);
  return parsed.ms;
}

/** The single positional argument of a command (usually SERVICE). */
export function one(positionals: string[], cmd: string, what = 'SERVICE'): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      `${cmd}: expected exactly one ${what}${positionals.length ? `, got ${positionals.join(' ')}` : ''}\n\n${HELP[cmd]}`,
    );
  }
  return positionals[0];
}

/** The path of a service's resource in the control API. */
export function servicePath(service: string, rest = ''): string {
  return `/v1/services/${encodeURIComponent(service)}${rest}`;
}

/** A YAML (or JSON) file given to `cmd`, parsed; an unreadable or malformed file is a usage error naming it. */
export function readYamlFile(cmd: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${cmd}: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new UsageError(`${cmd}: ${file} is not valid YAML/JSON: ${(err as Error).message}`);
  }
}
