import type { ServiceStatus } from '../../api/status.ts';
import { help, one, parse, servicePath } from '../args.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatStatus } from '../format.ts';
import { type FleetAnswer, isFleetAnswer, rolloutClient, WAIT_OPTIONS } from '../wait.ts';

/** The commands that steer a running (or the last failed) rollout. */
export type RolloutCommand = 'promote' | 'abort' | 'pause' | 'resume' | 'retry';

/**
 * `cutover promote|abort|pause|resume|retry SERVICE`: prints the status the command leaves; in
 * fleet mode (abort, pause, resume) the fleet's answer, and --wait follows the fleet rollout.
 */
export async function cmdRollout(cmd: RolloutCommand, argv: string[]): Promise<number> {
  const { values, positionals } = parse(cmd, argv, {
    full: { type: 'boolean' },
    ...WAIT_OPTIONS,
  });
  if (values.help) return help(cmd);
  const service = one(positionals, cmd);
  if (values.full && cmd !== 'promote') throw new UsageError(`--full is only valid with promote`);
  const { client, follow, followFleet } = rolloutClient(values);
  const s = await client.json<ServiceStatus | FleetAnswer>(
    'POST',
    servicePath(service, `/${cmd}`),
    values.full ? { full: true } : {},
  );
  if (isFleetAnswer(s)) {
    process.stdout.write(`${s.message}\n`);
    return followFleet(service, s.generation);
  }
  process.stdout.write(`${formatStatus(s)}\n`);
  return s.rollout ? follow(service, s.rollout.to) : EXIT.ok;
}
