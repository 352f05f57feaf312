import type { LimitsAnswer } from '../../api/limits-routes.ts';
import { help, one, parse, readYamlFile, resolveAddr, servicePath } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatPolicy } from '../policy-format.ts';

/** `cutover limits SERVICE`: shows the traffic policy; --file replaces it, --reset restores the config's. */
export async function cmdLimits(argv: string[]): Promise<number> {
  const { values, positionals } = parse('limits', argv, {
    file: { type: 'string', short: 'f' },
    reset: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) return help('limits');
  const service = one(positionals, 'limits');
  if (values.file && values.reset) throw new UsageError('limits: --file and --reset exclude each other');
  const client = new ControlClient(resolveAddr(values.config));
  const path = servicePath(service, '/limits');
  let a: LimitsAnswer;
  if (values.file) {
    let policy: unknown = readYamlFile('limits', values.file);
    // An empty file is an empty policy (everything off), as `{}` would be.
    policy ??= {};
    if (typeof policy !== 'object' || Array.isArray(policy)) {
      throw new UsageError(
        `limits: ${values.file} must be a mapping of loadBalancer, limits, outlierDetection, timeouts, retries`,
      );
    }
    a = await client.json<LimitsAnswer>('PUT', path, policy);
  } else if (values.reset) {
    a = await client.json<LimitsAnswer>('DELETE', path);
  } else {
    a = await client.json<LimitsAnswer>('GET', path);
  }
  process.stdout.write(values.json ? `${JSON.stringify(a, null, 2)}\n` : `${formatPolicy(a)}\n`);
  return EXIT.ok;
}
