import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { ServiceStatus } from '../api/status.ts';
import type { AuditEntry } from '../audit/log.ts';
import type { ConfigChange } from '../config/diff.ts';
import { formatIssues, loadConfigFile } from '../config/load.ts';
import type { Revision } from '../core/model.ts';
import { createLogger } from '../log/logger.ts';
import { systemdUnits } from '../service/systemd.ts';
import { StateDamagedError } from '../store/integrity.ts';
import { ApiResponseError, ControlClient, setCredentials, UnreachableError } from './client.ts';
import { cmdState } from './commands/state.ts';
import { EXIT } from './exit.ts';
import { formatChanges, formatHistory, formatStatus, formatTraffic, table } from './format.ts';

export { EXIT };

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
  apply               apply a changed config file to the running controller (--dry-run)
  service install     write systemd units (socket activation, restarts keep serving)
  reload [--master]   reload the gateway (new code/settings) without dropping a connection (admin)
  token create|list|revoke  manage API tokens (admin)
  audit [verify]      show the audit trail of mutating requests / check it was not tampered with (admin)
  state check|restore check the state database / restore it from its last snapshot (controller stopped)

Global options:
  -c, --config FILE   config file (default ./cutover.yaml); the CLI finds the controller
                      from its control.listen, or from CUTOVER_ADDR (host:port) if set
  --token TOKEN       API token (default: CUTOVER_TOKEN, else the admin token in the config's
                      dataDir when the CLI runs where the controller does)
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
  service: `Usage: cutover service install [-c FILE] [--name cutover] [--user USER] [--dir DIR] [--print]

Writes NAME.service and NAME.socket (default dir /etc/systemd/system). The socket unit owns
the gateway's listener (connections queue while Cutover restarts); the service runs
\`cutover up --keep-running\` with KillMode=process, so \`systemctl restart NAME\` replaces only
the controller and the new one adopts the running gateway and instances.
Then: systemctl daemon-reload && systemctl enable --now NAME.socket NAME.service
--print writes both units to stdout instead. Windows: see the README (nssm).`,
  reload: `Usage: cutover reload [-c FILE] [--master] [--json]

Reloads the gateway without dropping or resetting a connection. A new generation of gateway workers
(code and gateway settings re-read from disk, e.g. after upgrading Cutover) starts on the SAME
listening socket; once every new worker listens with the current routes, the old ones stop
accepting, finish in-flight requests (keep-alive clients get Connection: close, WebSockets a
1001 close) and exit. --master also replaces the gateway master process: the new master inherits
the listening socket, takes over the admin socket, starts its workers, then the old master drains
and exits (the controller follows the new pid). Also: SIGHUP (workers) / SIGUSR2 (master) to the
gateway master, whose pid is in <dataDir>/gateway.pid.`,
  apply: `Usage: cutover apply [-c FILE] [--dry-run]

Validates the file (every problem listed, nothing changes when it is invalid), shows the
difference with the running config and applies it: route, traffic, probe, replica and
timeout changes live; a changed version or run template becomes a new revision rolled out
with the service's strategy; added services start, removed ones are drained and stopped.
gateway/control changes need a restart (reported, not applied). Refused as a whole while a
changed service is rolling out. --dry-run shows the difference only.`,
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
  token: `Usage: cutover token create --name NAME --role viewer|deployer|admin [--service NAME]...
       cutover token list [--json]
       cutover token revoke NAME

create prints the new token alone on stdout (it is shown only once; Cutover stores a hash).
Roles: viewer reads everything; deployer also deploys, promotes, aborts, pauses, resumes,
retries, undoes and changes weight/rules of its --service services (all when none given);
admin can do everything, including tokens and the audit trail. revoke takes effect at once.
The "admin" token is the local one in <dataDir>/admin.token: delete that file and restart
\`cutover up\` to rotate it.`,
  audit: `Usage: cutover audit [--service S] [--json] [--limit N]
       cutover audit verify [--json]

Lists the audit trail: every mutating API request, allowed or refused, with time, actor (token
name or "anonymous"), role, action, service and revision, parameters (secrets redacted),
source address and outcome. Entries are hash-chained; verify recomputes the chain and reports
the first edited or deleted entry (exit 0 intact, 1 broken).`,
  validate: `Usage: cutover validate [-c FILE]

Checks the config file; prints every problem as FILE:LINE: path.to.key: what is wrong.
Exit 0 when valid, 2 when not.`,
};

const COMMON = {
  config: { type: 'string', short: 'c' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse<O extends Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>(
  cmd: string,
  argv: string[],
  options: O,
) {
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
  return `${r.config.control.tls ? 'https' : 'http'}://${l.host}:${l.port}`;
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
  const { startUp } = await import('../app/up.ts');
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

async function cmdReload(argv: string[]): Promise<number> {
  const { values, positionals } = parse('reload', argv, {
    master: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) return help('reload');
  if (positionals.length > 0)
    throw new UsageError(`reload: unexpected ${positionals.join(' ')}\n\n${HELP.reload}`);
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{ pid: number; generation: number; workerPids: number[]; retiring: number[] }>(
    'POST',
    '/v1/gateway/reload',
    values.master ? { master: true } : {},
  );
  if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else if (values.master) {
    process.stdout.write(
      `gateway master replaced: new master pid ${r.pid}; the old one drains ${r.retiring.length} worker(s) and exits\n`,
    );
  } else {
    process.stdout.write(
      `gateway reloaded: generation ${r.generation}, workers ${r.workerPids.join(' ')}; draining ${r.retiring.length} old worker(s)\n`,
    );
  }
  return EXIT.ok;
}

function cmdService(argv: string[]): number {
  const { values, positionals } = parse('service', argv, {
    name: { type: 'string' },
    user: { type: 'string' },
    dir: { type: 'string' },
    print: { type: 'boolean' },
  });
  if (values.help) return help('service');
  if (positionals[0] !== 'install' || positionals.length !== 1) {
    throw new UsageError(`service: expected "install"\n\n${HELP.service}`);
  }
  const name = values.name ?? 'cutover';
  if (!/^[A-Za-z0-9_.@-]+$/.test(name)) throw new UsageError(`--name: not a valid unit name: "${name}"`);
  const file = path.resolve(values.config ?? 'cutover.yaml');
  const r = loadConfigFile(file);
  if (!r.ok) {
    process.stderr.write(`${formatIssues(r.issues, file)}\n`);
    return EXIT.usage;
  }
  const units = systemdUnits(r.config, {
    configFile: file,
    node: process.execPath,
    bin: fileURLToPath(new URL('../../bin/cutover.mjs', import.meta.url)),
    name,
    user: values.user,
  });
  if (values.print) {
    process.stdout.write(`# ${name}.service\n${units.service}\n# ${name}.socket\n${units.socket}`);
    return EXIT.ok;
  }
  const dir = values.dir ?? '/etc/systemd/system';
  try {
    writeFileSync(path.join(dir, `${name}.service`), units.service);
    writeFileSync(path.join(dir, `${name}.socket`), units.socket);
  } catch (err) {
    process.stderr.write(`cutover service: cannot write units to ${dir}: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  process.stdout.write(
    `wrote ${path.join(dir, `${name}.service`)} and ${name}.socket\nnext: systemctl daemon-reload && systemctl enable --now ${name}.socket ${name}.service\n`,
  );
  return EXIT.ok;
}

async function cmdApply(argv: string[]): Promise<number> {
  const { values, positionals } = parse('apply', argv, { 'dry-run': { type: 'boolean' } });
  if (values.help) return help('apply');
  const file = values.config ?? positionals[0] ?? 'cutover.yaml';
  const r = loadConfigFile(file);
  if (!r.ok) {
    process.stderr.write(`${formatIssues(r.issues, file)}\n${file}: invalid, nothing was applied\n`);
    return EXIT.usage;
  }
  const l = r.config.control.listen;
  const client = new ControlClient(process.env.CUTOVER_ADDR ?? `${l.host}:${l.port}`);
  const res = await client.json<{ applied: boolean; changes: ConfigChange[] }>('POST', '/v1/config', {
    yaml: readFileSync(file, 'utf8'),
    file: path.resolve(file),
    dryRun: values['dry-run'] === true,
  });
  process.stdout.write(`${formatChanges(res.changes)}\n`);
  process.stdout.write(
    res.changes.length === 0 ? 'no changes\n' : res.applied ? 'applied\n' : 'dry run: nothing applied\n',
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

interface TokenInfo {
  name: string;
  role: string;
  services: string[];
  createdAt: number;
  lastUsedAt?: number;
}

async function cmdToken(argv: string[]): Promise<number> {
  const { values, positionals } = parse('token', argv, {
    name: { type: 'string' },
    role: { type: 'string' },
    service: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (values.help) return help('token');
  const [sub, ...rest] = positionals;
  const client = () => new ControlClient(resolveAddr(values.config));
  switch (sub) {
    case 'create': {
      if (rest.length > 0)
        throw new UsageError(`token create: unexpected ${rest.join(' ')}\n\n${HELP.token}`);
      if (!values.name || !values.role)
        throw new UsageError(`token create: --name and --role are required\n\n${HELP.token}`);
      const r = await client().json<TokenInfo & { token: string }>('POST', '/v1/tokens', {
        name: values.name,
        role: values.role,
        services: values.service ?? [],
      });
      process.stdout.write(`${r.token}\n`);
      return EXIT.ok;
    }
    case 'list': {
      if (rest.length > 0) throw new UsageError(`token list: unexpected ${rest.join(' ')}\n\n${HELP.token}`);
      const r = await client().json<{ tokens: TokenInfo[] }>('GET', '/v1/tokens');
      if (values.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return EXIT.ok;
      }
      const when = (t: number | undefined) => (t === undefined ? 'never' : new Date(t).toISOString());
      process.stdout.write(
        `${table(
          ['NAME', 'ROLE', 'SERVICES', 'CREATED', 'LAST USED'],
          r.tokens.map((t) => [
            t.name,
            t.role,
            t.role === 'deployer' ? t.services.join(',') || '*' : '-',
            when(t.createdAt),
            when(t.lastUsedAt),
          ]),
        )}\n`,
      );
      return EXIT.ok;
    }
    case 'revoke': {
      const name = one(rest, 'token', 'NAME');
      await client().json('DELETE', `/v1/tokens/${encodeURIComponent(name)}`);
      process.stdout.write(`revoked token ${name}\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(
        `token: expected create, list or revoke${sub ? `, got "${sub}"` : ''}\n\n${HELP.token}`,
      );
  }
}

/** An audit entry as the API lists it (hashes left out of the view). */
type AuditEntryView = Omit<AuditEntry, 'prevHash' | 'hash'>;

async function cmdAudit(argv: string[]): Promise<number> {
  const { values, positionals } = parse('audit', argv, {
    service: { type: 'string' },
    json: { type: 'boolean' },
    limit: { type: 'string' },
  });
  if (values.help) return help('audit');
  const client = new ControlClient(resolveAddr(values.config));
  if (positionals[0] === 'verify') {
    if (positionals.length > 1)
      throw new UsageError(`audit verify: unexpected ${positionals.slice(1).join(' ')}`);
    const v = await client.json<{
      ok: boolean;
      entries: number;
      broken?: { seq: number; reason: string; message: string };
    }>('GET', '/v1/audit/verify');
    if (values.json) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
    else if (v.ok) process.stdout.write(`audit trail intact: ${v.entries} entries verified\n`);
    else
      process.stdout.write(
        `audit trail BROKEN at entry ${v.broken?.seq} (${v.broken?.reason}): ${v.broken?.message}; ${v.entries} entries before it verified\n`,
      );
    return v.ok ? EXIT.ok : EXIT.failed;
  }
  if (positionals.length > 0)
    throw new UsageError(`audit: unexpected ${positionals.join(' ')}\n\n${HELP.audit}`);
  if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit))
    throw new UsageError(`--limit: expected a number of entries, got "${values.limit}"`);
  const q = new URLSearchParams();
  if (values.service) q.set('service', values.service);
  if (values.limit) q.set('limit', values.limit);
  const r = await client.json<{ entries: AuditEntryView[] }>('GET', `/v1/audit?${q}`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT.ok;
  }
  process.stdout.write(
    `${table(
      ['SEQ', 'TIME', 'ACTOR', 'ROLE', 'ACTION', 'TARGET', 'SOURCE', 'OUTCOME', 'PARAMS'],
      r.entries.map((e) => [
        String(e.seq),
        new Date(e.time).toISOString(),
        e.actor,
        e.role ?? '-',
        e.action,
        e.service ? `${e.service}${e.revision !== null ? `@${e.revision}` : ''}` : '-',
        e.source,
        `${e.status}${e.code ? ` ${e.code}` : ''}`,
        e.params === '{}' ? '' : e.params,
      ]),
    )}\n`,
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
  apply: cmdApply,
  service: cmdService,
  reload: cmdReload,
  promote: (a) => cmdSimple('promote', a),
  abort: (a) => cmdSimple('abort', a),
  pause: (a) => cmdSimple('pause', a),
  resume: (a) => cmdSimple('resume', a),
  retry: (a) => cmdSimple('retry', a),
  'set-weight': cmdSetWeight,
  rules: cmdRules,
  token: cmdToken,
  audit: cmdAudit,
  state: cmdState,
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
    if (err instanceof StateDamagedError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return EXIT.failed;
    }
    if (err instanceof ApiResponseError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return err.status === 400 ? EXIT.usage : EXIT.failed;
    }
    throw err;
  }
}
