import { help, one, parse, servicePath } from '../args.ts';
import { UsageError } from '../exit.ts';
import { HELP } from '../help.ts';
import { type FleetAnswer, isFleetAnswer, rolloutClient, WAIT_OPTIONS } from '../wait.ts';

/**
 * `cutover deploy SERVICE --version V`: a new revision, rolled out with the service's strategy;
 * in fleet mode, across the fleet's hosts in waves (the answer has a generation, no revision).
 */
export async function cmdDeploy(argv: string[]): Promise<number> {
  const { values, positionals } = parse('deploy', argv, {
    version: { type: 'string' },
    set: { type: 'string', multiple: true },
    ...WAIT_OPTIONS,
  });
  if (values.help) return help('deploy');
  const service = one(positionals, 'deploy');
  if (!values.version) throw new UsageError(`deploy: --version is required\n\n${HELP.deploy}`);
  const { client, follow, followFleet } = rolloutClient(values);
  const r = await client.json<{ revision: number; version: string } | FleetAnswer>(
    'POST',
    servicePath(service, '/deploy'),
    { version: values.version, set: values.set ?? [] },
  );
  if (isFleetAnswer(r)) {
    process.stdout.write(
      `rolling out ${r.version ?? values.version} of ${service} across the fleet (generation ${r.generation})\n`,
    );
    return followFleet(service, r.generation);
  }
  process.stdout.write(`rolling out revision ${r.revision} (${r.version}) of ${service}\n`);
  return follow(service, r.revision);
}
