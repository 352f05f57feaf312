import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { ServiceStatus } from '../api/status.ts';
import { formatIssues, loadConfigFile } from '../config/load.ts';
import type { Revision } from '../core/model.ts';
import { createLogger } from '../log/logger.ts';
import { ApiResponseError, ControlClient, UnreachableError } from './client.ts';
import { formatHistory, formatStatus, formatTraffic } from './format.ts';

/** Exit codes (documented in the README). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `cutover — zero-downtime releases for HTTP and WebSocket services

Usage: cutover <command> [options]

Commands:
  up                  run gateway, supervisor and controller in the foreground
  deploy SERVICE      roll out a new version (--version V [--set run.env.K=V] [--wait])
  status [SERVICE]    show services, rollouts and instances (--json, --watch)
  history SERVICE     list revisions (--json)
  undo SERVICE        roll back to the previous (or --to-revision N) revision (--wait)
  promote SERVICE     canary: pass the current pause (--full: skip all steps);
                      blue-green: switch all traffic to the preview side
  abort SERVICE       all traffic back to stable at once; the new revision is drained
  pause SERVICE       freeze a rollout's steps; resume SERVICE continues
  retry SERVICE       start the last failed/aborted rollout again
  set-weight SERVICE N  canary share of traffic (0..100), applied at once
  rules SERVICE       show traffic rules; --file FILE replaces them, --reset restores the config's
  logs SERVICE        show instance logs (--instance ID, -f, --tail N)
  events [SERVICE]    show the event log (--json)
  validate            check a config file and change nothing

Global options:
  -c, --config FILE   config file (default ./cutover.yaml); the CLI finds the controller
                      from its control.listen, or from CUTOVER_ADDR (host:port) if set
  -h, --help          help for a command

Exit codes: 0 ok, 1 the operation failed (rollout failed/rolled back, refused),
            2 bad usage or invalid config, 3 controller unreachable.`,
  up: `Usage: cutover up [-c FILE] [--keep-running]

Runs the gateway, the process supervisor and the controller in the foreground.
SIGINT/SIGTERM: the gateway stops accepting and finishes in-flight requests, then every
instance is stopped (SIGTERM, SIGKILL after stopTimeout). Nothing is left running.
--keep-running: on SIGINT/SIGTERM only the controller exits; the gateway keeps serving and
the instances keep running, and the next \`cutover up\` adopts them (upgrades of Cutover,
systemd restarts). The same happens after a crash of the controller.
Logs are JSON lines on stderr.`,
  deploy: `Usage: cutover deploy SERVICE --version V [--set run.env.KEY=VALUE ...] [--wait] [--timeout 10m]

Creates a new revision from the service's run template with \${VERSION}=V and rolls it out
with the service's strategy. --set overrides run.command, run.cwd or run.env.KEY for this
revision. --wait: follow the rollout; exit 0 when it succeeded, 1 when it failed (Cutover
then rolls back automatically).`,
  status: `Usage: cutover status [SERVICE] [--json] [--watch]

Phase (Healthy, Progressing, Degraded), stable revision, rollout progress and instances.
--watch redraws every second until interrupted.`,
  history: `Usage: cutover history SERVICE [--json]

Revisions: number (* = stable), version, created, outcome (stable, superseded, failed,
progressing, pending).`,
  undo: `Usage: cutover undo SERVICE [--to-revision N] [--wait] [--timeout 10m]

Rolls the service back to the previous good revision (or revision N) with its strategy;
the rolled-back-to spec becomes a new revision.`,
  logs: `Usage: cutover logs SERVICE [--instance ID] [-f|--follow] [--tail N]

Prints the captured stdout/stderr of the service's live instances (or of one instance,
live or stopped), each line prefixed with its instance id.`,
  events: `Usage: cutover events [SERVICE] [--json] [--limit N]`,
  promote: `Usage: cutover promote SERVICE [--full]

Canary: continues past the current indefinite (or timed) pause; --full skips every remaining
step and promotes the canary now. Blue-green: switches all new requests to the preview side
once it has full size and is ready; the old side stays warm for scaleDownDelay.`,
  abort: `Usage: cutover abort SERVICE

Sends all traffic back to the stable revision at once and drains the new one. Blue-green after
the switch (within scaleDownDelay): switches back instantly. Status shows Aborted; the next
deploy or retry starts again.`,
  pause: `Usage: cutover pause SERVICE

Freezes the rollout's steps (weights and instances stay as they are) until resume.`,
  resume: `Usage: cutover resume SERVICE`,
  retry: `Usage: cutover retry SERVICE [--wait]

Starts the last failed or aborted rollout again, from the first step.`,
  'set-weight': `Usage: cutover set-weight SERVICE WEIGHT

Sets the canary's share of traffic (0..100) of a running canary rollout, at once, without
restarting anything. Later setWeight steps still apply.`,
  rules: `Usage: cutover rules SERVICE [--file FILE | --reset] [--json]

Without options: shows the traffic rules in effect. --file FILE (YAML or JSON, the same
shape as a service's "traffic" key: stickyBy, rules) validates and replaces them at runtime;
--reset goes back to the config file's rules.`,
  validate: `Usage: cutover validate [-c FILE]

Checks the config file; prints every problem as FILE:LINE: path.to.key: what is wrong.
Exit 0 when valid, 2 when not.`,
};

const COMMON = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse<O extends Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>(
  cmd: string,
  argv: string[],
  options: O,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...COMMON, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP[cmd]}`);
  }
}

function resolveAddr(configPath: string | undefined): string {
  if (process.env.CUTOVER_ADDR && !configPath) return process.env.CUTOVER_ADDR;
  const file = configPath ?? 'cutover.yaml';
  const r = loadConfigFile(file);
  if (!r.ok) {
    throw new UsageError(
      `cannot find the controller: ${file} is not usable (set -c FILE or CUTOVER_ADDR=host:port)\n${formatIssues(r.issues, file)}`,
    );
  }
  const l = r.config.control.listen;
  return `${l.host}:${l.port}`;
}

function parseDurationArg(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(ms|s|m|h)$/.exec(v);
  if (!m) throw new UsageError(`${flag}: expected a duration like 30s or 10m, got "${v}"`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

function one(positionals: string[], cmd: string, what = 'SERVICE'): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      `${cmd}: expected exactly one ${what}${positionals.length ? `, got ${positionals.join(' ')}` : ''}\n\n${HELP[cmd]}`,
    );
  }
  return positionals[0];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows a rollout to `revision` until it finishes; returns the exit code. */
async function waitFor(
  client: ControlClient,
  service: string,
  revision: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const s = await client.json<ServiceStatus>('GET', `/v1/services/${encodeURIComponent(service)}`);
    const r = s.rollout;
    let line: string;
    if (r) {
      const p = r.progress;
      line = `${r.kind === 'rollback' ? 'rolling back to' : 'rolling out'} revision ${r.to} (${r.version}): ${p.available}/${p.replicas} available, ${p.old} old, ${p.draining} draining`;
    } else {
      line = `revision ${s.stable.revision} (${s.stable.version}) serving, phase ${s.phase}`;
    }
    if (line !== last) {
      process.stderr.write(`${line}\n`);
      last = line;
    }
    if (!r && s.lastRollout) {
      const l = s.lastRollout;
      if (l.to === revision && l.phase === 'Succeeded' && l.kind !== 'rollback') {
        process.stdout.write(`revision ${revision} of ${service} is stable\n`);
        return EXIT.ok;
      }
      if (l.kind === 'rollback' || l.phase === 'Failed') {
        const hist = await client.json<{ revisions: Revision[] }>(
          'GET',
          `/v1/services/${encodeURIComponent(service)}/history`,
        );
        const rev = hist.revisions.find((x) => x.number === revision);
        process.stdout.write(
          `revision ${revision} of ${service} failed: ${rev?.message ?? l.message ?? 'rollout failed'}; serving revision ${s.stable.revision} (${s.stable.version})\n`,
        );
        return EXIT.failed;
      }
    }
    await sleep(300);
  }
  process.stdout.write(
    `timed out waiting for revision ${revision} of ${service}; it continues in the background\n`,
  );
  return EXIT.failed;
}

async function cmdUp(argv: string[]): Promise<number> {
  const { values } = parse('up', argv, { 'keep-running': { type: 'boolean' } });
  if (values.help) return help('up');
  const file = values.config ?? 'cutover.yaml';
  const r = loadConfigFile(file);
  if (!r.ok) {
    process.stderr.write(`${formatIssues(r.issues, file)}\n`);
    return EXIT.usage;
  }
  const { startUp } = await import('../controller/up.ts');
  const log = createLogger();
  const running = await startUp(r.config, log, { keepRunning: values['keep-running'] === true });
  return new Promise((resolve) => {
    const onSignal = (sig: string) => {
      log.info('signal received', { signal: sig });
      running.stop().then(
        () => resolve(EXIT.ok),
        (err: unknown) => {
          log.error('shutdown failed', { err });
          resolve(EXIT.failed);
        },
      );
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}

function help(cmd: string): number {
  process.stdout.write(`${HELP[cmd]}\n`);
  return EXIT.ok;
}

async function cmdDeploy(argv: string[]): Promise<number> {
  const { values, positionals } = parse('deploy', argv, {
    version: { type: 'string' },
    set: { type: 'string', multiple: true },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help) return help('deploy');
  const service = one(positionals, 'deploy');
  if (!values.version) throw new UsageError(`deploy: --version is required\n\n${HELP.deploy}`);
  const timeout = parseDurationArg(values.timeout, '--timeout') ?? 30 * 60_000;
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{ revision: number; version: string }>(
    'POST',
    `/v1/services/${encodeURIComponent(service)}/deploy`,
    { version: values.version, set: values.set ?? [] },
  );
  process.stdout.write(`rolling out revision ${r.revision} (${r.version}) of ${service}\n`);
  return values.wait ? waitFor(client, service, r.revision, timeout) : EXIT.ok;
}

async function cmdUndo(argv: string[]): Promise<number> {
  const { values, positionals } = parse('undo', argv, {
    'to-revision': { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help) return help('undo');
  const service = one(positionals, 'undo');
  let to: number | undefined;
  if (values['to-revision'] !== undefined) {
    to = Number(values['to-revision']);
    if (!Number.isInteger(to) || to < 1)
      throw new UsageError(`--to-revision: expected a revision number, got "${values['to-revision']}"`);
  }
  const timeout = parseDurationArg(values.timeout, '--timeout') ?? 30 * 60_000;
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{ revision: number; version: string }>(
    'POST',
    `/v1/services/${encodeURIComponent(service)}/undo`,
    to === undefined ? {} : { toRevision: to },
  );
  process.stdout.write(`rolling out revision ${r.revision} (${r.version}) of ${service}\n`);
  return values.wait ? waitFor(client, service, r.revision, timeout) : EXIT.ok;
}

async function cmdStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parse('status', argv, {
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
  });
  if (values.help) return help('status');
  if (positionals.length > 1) throw new UsageError(`status: at most one SERVICE\n\n${HELP.status}`);
  const client = new ControlClient(resolveAddr(values.config));
  const fetchAll = async (): Promise<ServiceStatus[]> =>
    positionals[0]
      ? [await client.json<ServiceStatus>('GET', `/v1/services/${encodeURIComponent(positionals[0])}`)]
      : (await client.json<{ services: ServiceStatus[] }>('GET', '/v1/services')).services;
  const render = (list: ServiceStatus[]) =>
    values.json
      ? `${JSON.stringify(positionals[0] ? list[0] : { services: list }, null, 2)}\n`
      : `${list.map((s) => formatStatus(s)).join('\n\n')}\n`;
  if (!values.watch) {
    process.stdout.write(render(await fetchAll()));
    return EXIT.ok;
  }
  for (;;) {
    const text = render(await fetchAll());
    process.stdout.write(values.json ? text : `\x1b[2J\x1b[H${new Date().toISOString()}\n${text}`);
    await sleep(1000);
  }
}

async function cmdHistory(argv: string[]): Promise<number> {
  const { values, positionals } = parse('history', argv, { json: { type: 'boolean' } });
  if (values.help) return help('history');
  const service = one(positionals, 'history');
  const client = new ControlClient(resolveAddr(values.config));
  const h = await client.json<{ stable: number; revisions: Revision[] }>(
    'GET',
    `/v1/services/${encodeURIComponent(service)}/history`,
  );
  process.stdout.write(
    values.json ? `${JSON.stringify(h, null, 2)}\n` : `${formatHistory(h.revisions, h.stable)}\n`,
  );
  return EXIT.ok;
}

async function cmdEvents(argv: string[]): Promise<number> {
  const { values, positionals } = parse('events', argv, {
    json: { type: 'boolean' },
    limit: { type: 'string' },
  });
  if (values.help) return help('events');
  const q = new URLSearchParams();
  if (positionals[0]) q.set('service', positionals[0]);
  if (values.limit) q.set('limit', values.limit);
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{
    events: Array<{ time: number; service: string; type: string; message: string }>;
  }>('GET', `/v1/events?${q}`);
  if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else
    for (const e of r.events)
      process.stdout.write(`${new Date(e.time).toISOString()}  ${e.service}  ${e.type}  ${e.message}\n`);
  return EXIT.ok;
}

async function cmdLogs(argv: string[]): Promise<number> {
  const { values, positionals } = parse('logs', argv, {
    instance: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    tail: { type: 'string' },
  });
  if (values.help) return help('logs');
  const service = one(positionals, 'logs');
  if (values.tail !== undefined && !/^\d+$/.test(values.tail))
    throw new UsageError(`--tail: expected a number of lines, got "${values.tail}"`);
  const q = new URLSearchParams();
  if (values.instance) q.set('instance', values.instance);
  if (values.follow) q.set('follow', '1');
  if (values.tail) q.set('tail', values.tail);
  const client = new ControlClient(resolveAddr(values.config));
  await client.stream(`/v1/services/${encodeURIComponent(service)}/logs?${q}`, process.stdout);
  return EXIT.ok;
}

async function cmdSimple(
  cmd: 'promote' | 'abort' | 'pause' | 'resume' | 'retry',
  argv: string[],
): Promise<number> {
  const { values, positionals } = parse(cmd, argv, {
    full: { type: 'boolean' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help) return help(cmd);
  const service = one(positionals, cmd);
  if (values.full && cmd !== 'promote') throw new UsageError(`--full is only valid with promote`);
  const timeout = parseDurationArg(values.timeout, '--timeout') ?? 30 * 60_000;
  const client = new ControlClient(resolveAddr(values.config));
  const s = await client.json<ServiceStatus>(
    'POST',
    `/v1/services/${encodeURIComponent(service)}/${cmd}`,
    values.full ? { full: true } : {},
  );
  process.stdout.write(`${formatStatus(s)}\n`);
  if (values.wait && s.rollout) return waitFor(client, service, s.rollout.to, timeout);
  return EXIT.ok;
}

async function cmdSetWeight(argv: string[]): Promise<number> {
  const { values, positionals } = parse('set-weight', argv, {});
  if (values.help) return help('set-weight');
  if (positionals.length !== 2)
    throw new UsageError(`set-weight: expected SERVICE WEIGHT\n\n${HELP['set-weight']}`);
  const weight = Number(positionals[1]);
  if (!/^\d+(\.\d+)?$/.test(positionals[1]) || weight > 100) {
    throw new UsageError(`set-weight: WEIGHT must be a number from 0 to 100, got "${positionals[1]}"`);
  }
  const client = new ControlClient(resolveAddr(values.config));
  const s = await client.json<ServiceStatus>(
    'PUT',
    `/v1/services/${encodeURIComponent(positionals[0])}/weight`,
    { weight },
  );
  process.stdout.write(`${formatStatus(s)}\n`);
  return EXIT.ok;
}

async function cmdRules(argv: string[]): Promise<number> {
  const { values, positionals } = parse('rules', argv, {
    file: { type: 'string', short: 'f' },
    reset: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) return help('rules');
  const service = one(positionals, 'rules');
  const client = new ControlClient(resolveAddr(values.config));
  const path = `/v1/services/${encodeURIComponent(service)}`;
  let s: ServiceStatus;
  if (values.file && values.reset) throw new UsageError('rules: --file and --reset exclude each other');
  if (values.file) {
    let text: string;
    try {
      text = readFileSync(values.file, 'utf8');
    } catch (err) {
      throw new UsageError(`rules: cannot read ${values.file}: ${(err as Error).message}`);
    }
    let traffic: unknown;
    try {
      traffic = parseYaml(text);
    } catch (err) {
      throw new UsageError(`rules: ${values.file} is not valid YAML/JSON: ${(err as Error).message}`);
    }
    s = await client.json<ServiceStatus>('PUT', `${path}/rules`, { traffic });
  } else if (values.reset) {
    s = await client.json<ServiceStatus>('DELETE', `${path}/rules`);
  } else {
    s = await client.json<ServiceStatus>('GET', path);
  }
  process.stdout.write(
    values.json ? `${JSON.stringify(s.traffic ?? null, null, 2)}\n` : `${formatTraffic(s)}\n`,
  );
  return EXIT.ok;
}

function cmdValidate(argv: string[]): number {
  const { values, positionals } = parse('validate', argv, {});
  if (values.help) return help('validate');
  const file = values.config ?? positionals[0] ?? 'cutover.yaml';
  const r = loadConfigFile(file);
  if (!r.ok) {
    process.stderr.write(`${formatIssues(r.issues, file)}\n`);
    process.stderr.write(`${file}: ${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}\n`);
    return EXIT.usage;
  }
  const names = Object.keys(r.config.services);
  process.stdout.write(
    `${file}: ok (${names.length} service${names.length === 1 ? '' : 's'}: ${names.join(', ')})\n`,
  );
  return EXIT.ok;
}

const COMMANDS: Record<string, (argv: string[]) => number | Promise<number>> = {
  up: cmdUp,
  deploy: cmdDeploy,
  status: cmdStatus,
  history: cmdHistory,
  undo: cmdUndo,
  logs: cmdLogs,
  events: cmdEvents,
  validate: cmdValidate,
  promote: (a) => cmdSimple('promote', a),
  abort: (a) => cmdSimple('abort', a),
  pause: (a) => cmdSimple('pause', a),
  resume: (a) => cmdSimple('resume', a),
  retry: (a) => cmdSimple('retry', a),
  'set-weight': cmdSetWeight,
  rules: cmdRules,
};

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') return help('main');
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`cutover: unknown command "${cmd}"\n\n${HELP.main}\n`);
    return EXIT.usage;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof UnreachableError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return EXIT.unreachable;
    }
    if (err instanceof ApiResponseError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return err.status === 400 ? EXIT.usage : EXIT.failed;
    }
    throw err;
  }
}
