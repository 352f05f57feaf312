import type { ServiceStatus } from '../../api/status.ts';
import { help, one, parse, readYamlFile, resolveAddr, servicePath } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatTraffic } from '../format.ts';

/** `cutover rules SERVICE`: shows the traffic rules; --file replaces them, --reset restores the config's. */
export async function cmdRules(argv: string[]): Promise<number> {
  const { values, positionals } = parse('rules', argv, {
    file: { type: 'string', short: 'f' },
    reset: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) return help('rules');
  const service = one(positionals, 'rules');
  const client = new ControlClient(resolveAddr(values.config));
  const path = servicePath(service);
  let s: ServiceStatus;
  if (values.file && values.reset) throw new UsageError('rules: --file and --reset exclude each other');
  if (values.file) {
    const traffic: unknown = readYamlFile('rules', values.file);
    s = await client.json<ServiceStatus>('PUT', `${path}/rules`, { traffic });
  } else if (values.reset) {
    s = await client.json<ServiceStatus>('DELETE', `${path}/rules`);
  } else {
    s = await client.json<ServiceStatus>('GET', path);
  }
  process.stdout.write(
    values.json ? `${JSON.stringify(s.traffic ?? null, null, 2)}\n` : `${formatTraffic(s)}\n`,
  );
  return EXIT.ok;
}
