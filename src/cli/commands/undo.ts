import { help, one, parse, servicePath } from '../args.ts';
import { UsageError } from '../exit.ts';
import { type FleetAnswer, isFleetAnswer, rolloutClient, WAIT_OPTIONS } from '../wait.ts';

/** `cutover undo SERVICE`: rolls back to the previous good revision (or --to-revision N). */
export async function cmdUndo(argv: string[]): Promise<number> {
  const { values, positionals } = parse('undo', argv, {
    'to-revision': { type: 'string' },
    ...WAIT_OPTIONS,
  });
  if (values.help) return help('undo');
  const service = one(positionals, 'undo');
  let to: number | undefined;
  if (values['to-revision'] !== undefined) {
    to = Number(values['to-revision']);
    if (!Number.isInteger(to) || to < 1)
      throw new UsageError(`--to-revision: expected a revision number, got "${values['to-revision']}"`);
  }
  const { client, follow, followFleet } = rolloutClient(values);
  const r = await client.json<{ revision: number; version: string } | FleetAnswer>(
    'POST',
    servicePath(service, '/undo'),
    to === undefined ? {} : { toRevision: to },
  );
  if (isFleetAnswer(r)) {
    process.stdout.write(`${r.message}\n`);
    return followFleet(service, r.generation);
  }
  process.stdout.write(`rolling out revision ${r.revision} (${r.version}) of ${service}\n`);
  return follow(service, r.revision);
}
