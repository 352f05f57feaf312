import { help, one, parse, resolveAddr, servicePath } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';

/** `cutover logs SERVICE`: the instances' captured output (-f follows). */
export async function cmdLogs(argv: string[]): Promise<number> {
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
  await client.stream(servicePath(service, `/logs?${q}`), process.stdout);
  return EXIT.ok;
}
