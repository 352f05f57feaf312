import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { systemdUnits } from '../../service/systemd.ts';
import { help, parse } from '../args.ts';
import { EXIT, UsageError } from '../exit.ts';
import { HELP } from '../help.ts';

/** Where `service install` writes the units unless --dir says otherwise. */
const SYSTEMD_UNIT_DIR = '/etc/systemd/system';

/** `cutover service install`: writes the systemd service and socket units. */
export function cmdService(argv: string[]): number {
  const { values, positionals } = parse('service', argv, {
    name: { type: 'string' },
    user: { type: 'string' },
    dir: { type: 'string' },
    print: { type: 'boolean' },
  });
  if (values.help) return help('service');
  if (positionals[0] !== 'install' || positionals.length !== 1) {
    throw new UsageError(`service: expected "install"\n\n${HELP.service}`);
  }
  const name = values.name ?? 'cutover';
  if (!/^[A-Za-z0-9_.@-]+$/.test(name)) throw new UsageError(`--name: not a valid unit name: "${name}"`);
  const file = path.resolve(values.config ?? 'cutover.yaml');
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    process.stderr.write(`${formatIssues(loaded.issues, file)}\n`);
    return EXIT.usage;
  }
  const units = systemdUnits(loaded.config, {
    configFile: file,
    node: process.execPath,
    bin: fileURLToPath(new URL('../../../bin/cutover.mjs', import.meta.url)),
    name,
    user: values.user,
  });
  if (values.print) {
    process.stdout.write(`# ${name}.service\n${units.service}\n# ${name}.socket\n${units.socket}`);
    return EXIT.ok;
  }
  const dir = values.dir ?? SYSTEMD_UNIT_DIR;
  try {
    writeFileSync(path.join(dir, `${name}.service`), units.service);
    writeFileSync(path.join(dir, `${name}.socket`), units.socket);
  } catch (err) {
    process.stderr.write(`cutover service: cannot write units to ${dir}: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  process.stdout.write(
    `wrote ${path.join(dir, `${name}.service`)} and ${name}.socket\nnext: systemctl daemon-reload && systemctl enable --now ${name}.socket ${name}.service\n`,
  );
  return EXIT.ok;
}
