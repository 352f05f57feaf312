import { help, parse, resolveAddr } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { HELP } from '../help.ts';

/**
 * The controller answers a reload once the new gateway generation (or master) is ready, which it
 * waits up to 60 s for; a loaded host can take well over the CLI's usual 10 s.
 */
const RELOAD_ANSWER_TIMEOUT_MS = 90_000;

/** `cutover reload [--master]`: a new generation of gateway workers (or a new master) on the same socket. */
export async function cmdReload(argv: string[]): Promise<number> {
  const { values, positionals } = parse('reload', argv, {
    master: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) return help('reload');
  if (positionals.length > 0)
    throw new UsageError(`reload: unexpected ${positionals.join(' ')}\n\n${HELP.reload}`);
  const client = new ControlClient(resolveAddr(values.config));
  const r = await client.json<{
    pid: number;
    generation: number;
    workerPids: number[];
    retiring: number[];
    certificateErrors?: string[];
  }>('POST', '/v1/gateway/reload', values.master ? { master: true } : {}, RELOAD_ANSWER_TIMEOUT_MS);
  if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else if (values.master) {
    process.stdout.write(
      `gateway master replaced: new master pid ${r.pid}; the old one drains ${r.retiring.length} worker(s) and exits\n`,
    );
  } else {
    process.stdout.write(
      `gateway reloaded: generation ${r.generation}, workers ${r.workerPids.join(' ')}; draining ${r.retiring.length} old worker(s)\n`,
    );
  }
  // The reload happened, but a certificate an operator replaced is not served: a script must notice.
  for (const refusal of r.certificateErrors ?? []) {
    process.stderr.write(`certificate refused; the one loaded before stays in force: ${refusal}\n`);
  }
  return (r.certificateErrors ?? []).length > 0 ? EXIT.failed : EXIT.ok;
}
