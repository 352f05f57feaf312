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
import { HELP } from '../help.ts';
import { waitForRollout } from '../wait.ts';

/** `cutover deploy SERVICE --version V`: a new revision, rolled out with the service's strategy. */
export async function cmdDeploy(argv: string[]): Promise<number> {
  const { values, positionals } = parse('deploy', argv, {
    version: { type: 'string' },
    set: { type: 'string', multiple: true },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help) return help('deploy');
  const service = one(positionals, 'deploy');
  if (!values.version) throw new UsageError(`deploy: --version is required\n\n${HELP.deploy}`);
  const timeout = parseDurationArg(values.timeout, '--timeout') ?? DEFAULT_WAIT_TIMEOUT_MS;
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{ revision: number; version: string }>(
    'POST',
    servicePath(service, '/deploy'),
    { version: values.version, set: values.set ?? [] },
  );
  process.stdout.write(`rolling out revision ${r.revision} (${r.version}) of ${service}\n`);
  return values.wait ? waitForRollout(client, service, r.revision, timeout) : EXIT.ok;
}
