import { help, one, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { table } from '../format.ts';
import { HELP } from '../help.ts';

/** A token as the API lists it (never its secret). */
interface TokenInfo {
  name: string;
  role: string;
  services: string[];
  createdAt: number;
  lastUsedAt?: number;
}

/** `cutover token create|list|revoke`: API tokens (admin). */
export async function cmdToken(argv: string[]): Promise<number> {
  const { values, positionals } = parse('token', argv, {
    name: { type: 'string' },
    role: { type: 'string' },
    service: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (values.help) return help('token');
  const [sub, ...rest] = positionals;
  const client = () => new ControlClient(resolveAddr(values.config));
  switch (sub) {
    case 'create': {
      if (rest.length > 0)
        throw new UsageError(`token create: unexpected ${rest.join(' ')}\n\n${HELP.token}`);
      if (!values.name || !values.role)
        throw new UsageError(`token create: --name and --role are required\n\n${HELP.token}`);
      const r = await client().json<TokenInfo & { token: string }>('POST', '/v1/tokens', {
        name: values.name,
        role: values.role,
        services: values.service ?? [],
      });
      process.stdout.write(`${r.token}\n`);
      return EXIT.ok;
    }
    case 'list': {
      if (rest.length > 0) throw new UsageError(`token list: unexpected ${rest.join(' ')}\n\n${HELP.token}`);
      const r = await client().json<{ tokens: TokenInfo[] }>('GET', '/v1/tokens');
      if (values.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return EXIT.ok;
      }
      const when = (t: number | undefined) => (t === undefined ? 'never' : new Date(t).toISOString());
      process.stdout.write(
        `${table(
          ['NAME', 'ROLE', 'SERVICES', 'CREATED', 'LAST USED'],
          r.tokens.map((t) => [
            t.name,
            t.role,
            t.role === 'deployer' ? t.services.join(',') || '*' : '-',
            when(t.createdAt),
            when(t.lastUsedAt),
          ]),
        )}\n`,
      );
      return EXIT.ok;
    }
    case 'revoke': {
      const name = one(rest, 'token', 'NAME');
      await client().json('DELETE', `/v1/tokens/${encodeURIComponent(name)}`);
      process.stdout.write(`revoked token ${name}\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(
        `token: expected create, list or revoke${sub ? `, got "${sub}"` : ''}\n\n${HELP.token}`,
      );
  }
}
