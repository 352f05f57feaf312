import { help, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { HELP } from '../help.ts';

const ACTIONS = ['drain', 'resume', 'remove'] as const;
type HostAction = (typeof ACTIONS)[number];

/** What the host's state means for traffic, by action. */
const DONE: Record<HostAction, (host: string) => string> = {
  drain: (host) => `host ${host} drained: its gateway fails its health check; instances keep running`,
  resume: (host) => `host ${host} resumed`,
  remove: (host) => `host ${host} removed from the fleet: rollouts no longer wait for it`,
};

/**
 * `cutover host drain|resume NAME`: takes a fleet host out of the load balancer's rotation, or
 * back; `host remove NAME`: forgets a host that left the fleet for good.
 */
export async function cmdHost(argv: string[]): Promise<number> {
  const { values, positionals } = parse('host', argv, { json: { type: 'boolean' } });
  if (values.help) return help('host');
  const [action, name, ...extra] = positionals;
  if (!ACTIONS.includes(action as HostAction)) {
    throw new UsageError(
      `${action ? `unknown action "${action}"` : 'expected an action'} (drain, resume or remove)\n\n${HELP.host}`,
    );
  }
  if (!name || extra.length > 0) {
    throw new UsageError(
      `host ${action}: expected exactly one host NAME${extra.length ? `, got ${[name, ...extra].join(' ')}` : ''}\n\n${HELP.host}`,
    );
  }
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{ host: string; drained: boolean }>(
    'POST',
    `/v1/hosts/${encodeURIComponent(name)}/${action}`,
    {},
  );
  process.stdout.write(
    values.json ? `${JSON.stringify(r, null, 2)}\n` : `${DONE[action as HostAction](r.host)}\n`,
  );
  return EXIT.ok;
}
