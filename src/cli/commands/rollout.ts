import type { ServiceStatus } from '../../api/status.ts';
import {
  DEFAULT_WAIT_TIMEOUT_MS,
  help,
  one,
  parse,
  parseDurationArg,
  resolveAddr,
  servicePath,
} from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatStatus } from '../format.ts';
import { waitForRollout } from '../wait.ts';

/** The commands that steer a running (or the last failed) rollout. */
export type RolloutCommand = 'promote' | 'abort' | 'pause' | 'resume' | 'retry';

/** `cutover promote|abort|pause|resume|retry SERVICE`: prints the status the command leaves. */
export async function cmdRollout(cmd: RolloutCommand, argv: string[]): Promise<number> {
  const { values, positionals } = parse(cmd, argv, {
    full: { type: 'boolean' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help) return help(cmd);
  const service = one(positionals, cmd);
  if (values.full && cmd !== 'promote') throw new UsageError(`--full is only valid with promote`);
  const timeout = parseDurationArg(values.timeout, '--timeout') ?? DEFAULT_WAIT_TIMEOUT_MS;
  const client = new ControlClient(resolveAddr(values.config));
  const s = await client.json<ServiceStatus>(
    'POST',
    servicePath(service, `/${cmd}`),
    values.full ? { full: true } : {},
  );
  process.stdout.write(`${formatStatus(s)}\n`);
  if (values.wait && s.rollout) return waitForRollout(client, service, s.rollout.to, timeout);
  return EXIT.ok;
}
