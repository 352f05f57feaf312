import { help, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT } from '../exit.ts';

/** `cutover events [SERVICE]`: the event log, oldest first. */
export async function cmdEvents(argv: string[]): Promise<number> {
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
