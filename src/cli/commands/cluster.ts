import { help, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { HELP } from '../help.ts';

interface ImportAnswer {
  tokens: { imported: string[]; kept: string[] };
  audit: { shipped: number; verify: { ok: boolean; entries: number } };
}

/** `cutover cluster import`: moves this host's own tokens and audit entries into the fleet (admin). */
export async function cmdCluster(argv: string[]): Promise<number> {
  const { values, positionals } = parse('cluster', argv, { json: { type: 'boolean' } });
  if (values.help) return help('cluster');
  const [action, ...extra] = positionals;
  if (action !== 'import' || extra.length > 0) {
    throw new UsageError(
      `${action ? `unexpected ${positionals.join(' ')}` : 'expected an action'} (import)\n\n${HELP.cluster}`,
    );
  }
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<ImportAnswer>('POST', '/v1/cluster/import', {});
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT.ok;
  }
  const list = (names: string[]) => (names.length ? names.join(', ') : 'none');
  process.stdout.write(
    `tokens shared with the fleet: ${list(r.tokens.imported)}\n` +
      (r.tokens.kept.length
        ? `tokens kept as they were (the fleet has one by that name): ${list(r.tokens.kept)}\n`
        : '') +
      `audit entries added to the fleet chain: ${r.audit.shipped} (fleet chain ${r.audit.verify.ok ? 'intact' : 'BROKEN'}, ${r.audit.verify.entries} entries)\n`,
  );
  return r.audit.verify.ok ? EXIT.ok : EXIT.failed;
}
