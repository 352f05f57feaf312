import type { Revision } from '../../core/model.ts';
import { help, one, parse, resolveAddr, servicePath } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT } from '../exit.ts';
import { formatHistory } from '../format.ts';

/** `cutover history SERVICE`: the revisions and how each ended. */
export async function cmdHistory(argv: string[]): Promise<number> {
  const { values, positionals } = parse('history', argv, { json: { type: 'boolean' } });
  if (values.help) return help('history');
  const service = one(positionals, 'history');
  const client = new ControlClient(resolveAddr(values.config));
  const h = await client.json<{ stable: number; revisions: Revision[] }>(
    'GET',
    servicePath(service, '/history'),
  );
  process.stdout.write(
    values.json ? `${JSON.stringify(h, null, 2)}\n` : `${formatHistory(h.revisions, h.stable)}\n`,
  );
  return EXIT.ok;
}
