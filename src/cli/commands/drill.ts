import type { DrillReport } from '../../api/drill-routes.ts';
import { sleep } from '../../util/sleep.ts';
import { help, one, parse, parseDurationArg, resolveAddr, servicePath } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT, UsageError } from '../exit.ts';
import { formatDrillReport } from '../format.ts';

/** How often the CLI asks how the drill goes (the drill itself is judged every analysis interval). */
const POLL_MS = 250;

/** `cutover drill SERVICE`: starts a rollback drill and reports how analysis handled it. */
export async function cmdDrill(argv: string[]): Promise<number> {
  const { values, positionals } = parse('drill', argv, {
    fault: { type: 'string' },
    weight: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return help('drill');
  const service = one(positionals, 'drill');
  const timeoutMs = parseDurationArg(values.timeout, '--timeout');
  const body: Record<string, unknown> = {};
  if (values.fault !== undefined) body.fault = values.fault;
  if (values.timeout !== undefined) body.timeout = values.timeout;
  if (values.weight !== undefined) {
    const w = Number(values.weight);
    if (!(w > 0 && w <= 100))
      throw new UsageError(`--weight: expected a share 0 < N <= 100, got "${values.weight}"`);
    body.weight = w;
  }
  const client = new ControlClient(resolveAddr(values.config));
  const started = await client.json<DrillReport>('POST', servicePath(service, '/drill'), body);
  if (!values.json) {
    process.stderr.write(`drill of ${service}: revision ${started.revision} with ${started.fault}\n`);
  }
  // The controller ends the drill at its timeout; the margin covers a slow last reconcile.
  const deadline = Date.now() + (timeoutMs ?? started.timeoutMs) + 30_000;
  let report = started;
  while (report.state === 'running' && Date.now() < deadline) {
    await sleep(POLL_MS);
    report = await client.json<DrillReport>('GET', servicePath(service, '/drill'));
  }
  process.stdout.write(
    values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDrillReport(report)}\n`,
  );
  return report.state === 'aborted' ? EXIT.ok : EXIT.failed;
}
