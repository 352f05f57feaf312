import type { CertificateStatus } from '../../gateway/master-certs.ts';
import { help, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { table } from '../format.ts';
import { HELP } from '../help.ts';

/** Bound of a forced ACME renewal's answer (the CA's order, then every gateway worker). */
const RENEW_ANSWER_TIMEOUT_MS = 90_000;

/** `cutover certs [--json]` lists the gateway's certificates; `cutover certs renew HOST` forces an ACME renewal. */
export async function cmdCerts(argv: string[]): Promise<number> {
  const { values, positionals } = parse('certs', argv, { json: { type: 'boolean' } });
  if (values.help) return help('certs');
  const client = new ControlClient(resolveAddr(values.config));
  if (positionals[0] === 'renew') {
    if (positionals.length !== 2) throw new UsageError(`certs renew: name one host\n\n${HELP.certs}`);
    // Answered once the CA issued the new certificate and it serves: can take longer than a plain request.
    const r = await client.json<CertificateStatus>(
      'POST',
      '/v1/certs/renew',
      { host: positionals[1] },
      RENEW_ANSWER_TIMEOUT_MS,
    );
    if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else
      process.stdout.write(
        `renewed ${positionals[1]}: valid until ${r.notAfter ?? '?'}, next renewal ${r.renewAt ?? '?'}\n`,
      );
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new UsageError(`certs: unexpected ${positionals.join(' ')}\n\n${HELP.certs}`);
  const r = await client.json<{ certificates: CertificateStatus[] }>('GET', '/v1/certs');
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r.certificates, null, 2)}\n`);
    return EXIT.ok;
  }
  if (r.certificates.length === 0) {
    process.stdout.write('no certificates (gateway.tls is not configured)\n');
    return EXIT.ok;
  }
  const rows = r.certificates.map((c) => [
    c.hosts.join(','),
    c.source,
    c.state ?? (c.error ? 'failed' : 'valid'),
    c.notAfter ?? '-',
    c.renewAt ?? '-',
    c.issuer ?? '-',
    c.error ?? '',
  ]);
  process.stdout.write(table(['HOSTS', 'SOURCE', 'STATE', 'NOT AFTER', 'RENEWAL', 'ISSUER', 'ERROR'], rows));
  return EXIT.ok;
}
