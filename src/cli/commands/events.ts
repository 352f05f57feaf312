import type { StoredFleetEvent } from '../../fleet/view.ts';
import { help, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';

/** --limit N: a positive integer, else a usage error. */
function limitOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--limit: expected a positive integer, got "${value}"`);
  return n;
}

/** `time  service  type  host  message`, `-` for an event of no host. */
function fleetLine(e: StoredFleetEvent): string {
  return `${new Date(e.time).toISOString()}  ${e.service}  ${e.type}  ${e.host ?? '-'}  ${e.message}\n`;
}

/**
 * `cutover events --fleet [SERVICE]`: the fleet's events, oldest first. The API lists them all:
 * SERVICE and --limit (the newest N) are applied here.
 */
async function fleetEvents(
  client: ControlClient,
  service: string | undefined,
  limit: number | undefined,
  json: boolean,
): Promise<number> {
  const r = await client.json<{ events: StoredFleetEvent[] }>('GET', '/v1/fleet/events');
  let events = service === undefined ? r.events : r.events.filter((e) => e.service === service);
  if (limit !== undefined) events = events.slice(-limit);
  if (json) process.stdout.write(`${JSON.stringify({ events }, null, 2)}\n`);
  else for (const e of events) process.stdout.write(fleetLine(e));
  return EXIT.ok;
}

/** `cutover events [SERVICE]`: the event log, oldest first; --fleet: the fleet's events. */
export async function cmdEvents(argv: string[]): Promise<number> {
  const { values, positionals } = parse('events', argv, {
    json: { type: 'boolean' },
    limit: { type: 'string' },
    fleet: { type: 'boolean' },
  });
  if (values.help) return help('events');
  if (positionals.length > 1)
    throw new UsageError(`events: at most one SERVICE, got ${positionals.join(' ')}`);
  const client = new ControlClient(resolveAddr(values.config));
  if (values.fleet) return fleetEvents(client, positionals[0], limitOf(values.limit), values.json === true);
  const q = new URLSearchParams();
  if (positionals[0]) q.set('service', positionals[0]);
  if (values.limit) q.set('limit', values.limit);
  const r = await client.json<{
    events: Array<{ time: number; service: string; type: string; message: string }>;
  }>('GET', `/v1/events?${q}`);
  if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else
    for (const e of r.events)
      process.stdout.write(`${new Date(e.time).toISOString()}  ${e.service}  ${e.type}  ${e.message}\n`);
  return EXIT.ok;
}
