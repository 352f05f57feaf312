import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { help, parse } from '../args.ts';
import { EXIT } from '../exit.ts';

/** `cutover validate`: checks a config file and changes nothing. */
export function cmdValidate(argv: string[]): number {
  const { values, positionals } = parse('validate', argv, {});
  if (values.help) return help('validate');
  const file = values.config ?? positionals[0] ?? 'cutover.yaml';
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    const n = loaded.issues.length;
    process.stderr.write(`${formatIssues(loaded.issues, file)}\n`);
    process.stderr.write(`${file}: ${n} problem${n === 1 ? '' : 's'}\n`);
    return EXIT.usage;
  }
  const names = Object.keys(loaded.config.services);
  process.stdout.write(
    `${file}: ok (${names.length} service${names.length === 1 ? '' : 's'}: ${names.join(', ')})\n`,
  );
  return EXIT.ok;
}
