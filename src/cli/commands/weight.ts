import type { ServiceStatus } from '../../api/status.ts';
import { help, parse, resolveAddr, servicePath } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatStatus } from '../format.ts';
import { HELP } from '../help.ts';

/** `cutover set-weight SERVICE WEIGHT`: the canary's share of traffic, applied at once. */
export async function cmdSetWeight(argv: string[]): Promise<number> {
  const { values, positionals } = parse('set-weight', argv, {});
  if (values.help) return help('set-weight');
  if (positionals.length !== 2)
    throw new UsageError(`set-weight: expected SERVICE WEIGHT\n\n${HELP['set-weight']}`);
  const weight = Number(positionals[1]);
  if (!/^\d+(\.\d+)?$/.test(positionals[1]) || weight > 100) {
    throw new UsageError(`set-weight: WEIGHT must be a number from 0 to 100, got "${positionals[1]}"`);
  }
  const client = new ControlClient(resolveAddr(values.config));
  const s = await client.json<ServiceStatus>('PUT', servicePath(positionals[0], '/weight'), { weight });
  process.stdout.write(`${formatStatus(s)}\n`);
  return EXIT.ok;
}
