import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { createLogger } from '../../log/logger.ts';
import { help, parse } from '../args.ts';
import { EXIT } from '../exit.ts';

/** `cutover up`: runs gateway, supervisor and controller until SIGINT/SIGTERM. */
export async function cmdUp(argv: string[]): Promise<number> {
  const { values } = parse('up', argv, { 'keep-running': { type: 'boolean' } });
  if (values.help) return help('up');
  const file = values.config ?? 'cutover.yaml';
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    process.stderr.write(`${formatIssues(loaded.issues, file)}\n`);
    return EXIT.usage;
  }
  // Loaded only here: the other commands need none of the runtime.
  const { startUp } = await import('../../controller/up.ts');
  const log = createLogger();
  const running = await startUp(loaded.config, log, { keepRunning: values['keep-running'] === true });
  return new Promise((resolve) => {
    const onSignal = (sig: string) => {
      log.info('signal received', { signal: sig });
      running.stop().then(
        () => resolve(EXIT.ok),
        (err: unknown) => {
          log.error('shutdown failed', { err });
          resolve(EXIT.failed);
        },
      );
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}
