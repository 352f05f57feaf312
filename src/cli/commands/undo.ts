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
import { waitForRollout } from '../wait.ts';

/** `cutover undo SERVICE`: rolls back to the previous good revision (or --to-revision N). */
export async function cmdUndo(argv: string[]): Promise<number> {
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
  const timeout = parseDurationArg(values.timeout, '--timeout') ?? DEFAULT_WAIT_TIMEOUT_MS;
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{ revision: number; version: string }>(
    'POST',
    servicePath(service, '/undo'),
    to === undefined ? {} : { toRevision: to },
  );
  process.stdout.write(`rolling out revision ${r.revision} (${r.version}) of ${service}\n`);
  return values.wait ? waitForRollout(client, service, r.revision, timeout) : EXIT.ok;
}
