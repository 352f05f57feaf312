import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigChange } from '../../config/diff.ts';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { help, parse } from '../args.ts';
import { ControlClient } from '../client.ts';
import { EXIT } from '../exit.ts';
import { formatChanges } from '../format.ts';

/** `cutover apply`: validates a changed config file and applies it to the running controller. */
export async function cmdApply(argv: string[]): Promise<number> {
  const { values, positionals } = parse('apply', argv, { 'dry-run': { type: 'boolean' } });
  if (values.help) return help('apply');
  const file = values.config ?? positionals[0] ?? 'cutover.yaml';
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    process.stderr.write(`${formatIssues(loaded.issues, file)}\n${file}: invalid, nothing was applied\n`);
    return EXIT.usage;
  }
  // The controller to apply to is the one this file configures (unless CUTOVER_ADDR says otherwise).
  const listen = loaded.config.control.listen;
  const client = new ControlClient(process.env.CUTOVER_ADDR ?? `${listen.host}:${listen.port}`);
  const res = await client.json<{ applied: boolean; changes: ConfigChange[] }>('POST', '/v1/config', {
    yaml: readFileSync(file, 'utf8'),
    file: path.resolve(file),
    dryRun: values['dry-run'] === true,
  });
  process.stdout.write(`${formatChanges(res.changes)}\n`);
  process.stdout.write(
    res.changes.length === 0 ? 'no changes\n' : res.applied ? 'applied\n' : 'dry run: nothing applied\n',
  );
  return EXIT.ok;
}
