import type { AuditEntry } from '../../audit/log.ts';
import { help, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { table } from '../format.ts';
import { HELP } from '../help.ts';

/** An audit entry as the API lists it (hashes left out of the view). */
type AuditEntryView = Omit<AuditEntry, 'prevHash' | 'hash'> & { host?: string };

/** `cutover audit [verify]`: the audit trail of mutating requests, or a check of its hash chain (admin). */
export async function cmdAudit(argv: string[]): Promise<number> {
  const { values, positionals } = parse('audit', argv, {
    service: { type: 'string' },
    json: { type: 'boolean' },
    limit: { type: 'string' },
  });
  if (values.help) return help('audit');
  const client = new ControlClient(resolveAddr(values.config));
  if (positionals[0] === 'verify') {
    if (positionals.length > 1)
      throw new UsageError(`audit verify: unexpected ${positionals.slice(1).join(' ')}`);
    const v = await client.json<{
      ok: boolean;
      entries: number;
      broken?: { seq: number; reason: string; message: string };
    }>('GET', '/v1/audit/verify');
    if (values.json) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
    else if (v.ok) process.stdout.write(`audit trail intact: ${v.entries} entries verified\n`);
    else
      process.stdout.write(
        `audit trail BROKEN at entry ${v.broken?.seq} (${v.broken?.reason}): ${v.broken?.message}; ${v.entries} entries before it verified\n`,
      );
    return v.ok ? EXIT.ok : EXIT.failed;
  }
  if (positionals.length > 0)
    throw new UsageError(`audit: unexpected ${positionals.join(' ')}\n\n${HELP.audit}`);
  if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit))
    throw new UsageError(`--limit: expected a number of entries, got "${values.limit}"`);
  const q = new URLSearchParams();
  if (values.service) q.set('service', values.service);
  if (values.limit) q.set('limit', values.limit);
  const r = await client.json<{ entries: AuditEntryView[] }>('GET', `/v1/audit?${q}`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT.ok;
  }
  // Fleet mode: the fleet's chain, every entry with the host that took the request.
  const hosts = r.entries.some((e) => e.host !== undefined);
  process.stdout.write(
    `${table(
      [
        ...(hosts ? ['HOST'] : []),
        'SEQ',
        'TIME',
        'ACTOR',
        'ROLE',
        'ACTION',
        'TARGET',
        'SOURCE',
        'OUTCOME',
        'PARAMS',
      ],
      r.entries.map((e) => [
        ...(hosts ? [e.host ?? '-'] : []),
        String(e.seq),
        new Date(e.time).toISOString(),
        e.actor,
        e.role ?? '-',
        e.action,
        e.service ? `${e.service}${e.revision !== null ? `@${e.revision}` : ''}` : '-',
        e.source,
        `${e.status}${e.code ? ` ${e.code}` : ''}`,
        e.params === '{}' ? '' : e.params,
      ]),
    )}\n`,
  );
  return EXIT.ok;
}
