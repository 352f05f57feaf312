import { StartupError } from '../app/startup-error.ts';
import { StateDamagedError } from '../store/integrity.ts';
import { help } from './args.ts';
import { ApiResponseError, UnreachableError } from './client.ts';
import { cmdApply } from './commands/apply.ts';
import { cmdAudit } from './commands/audit.ts';
import { cmdCerts } from './commands/certs.ts';
import { cmdCluster } from './commands/cluster.ts';
import { cmdDashboard } from './commands/dashboard.ts';
import { cmdDeploy } from './commands/deploy.ts';
import { cmdDrill } from './commands/drill.ts';
import { cmdEvents } from './commands/events.ts';
import { cmdHistory } from './commands/history.ts';
import { cmdHost } from './commands/host.ts';
import { cmdLimits } from './commands/limits.ts';
import { cmdLogs } from './commands/logs.ts';
import { cmdReload } from './commands/reload.ts';
import { cmdRollout } from './commands/rollout.ts';
import { cmdRules } from './commands/rules.ts';
import { cmdService } from './commands/service.ts';
import { cmdState } from './commands/state.ts';
import { cmdStatus } from './commands/status.ts';
import { cmdToken } from './commands/token.ts';
import { cmdUndo } from './commands/undo.ts';
import { cmdUp } from './commands/up.ts';
import { cmdValidate } from './commands/validate.ts';
import { cmdSetWeight } from './commands/weight.ts';
import { EXIT, UsageError } from './exit.ts';
import { HELP } from './help.ts';

export { EXIT } from './exit.ts';

const COMMANDS: Record<string, (argv: string[]) => number | Promise<number>> = {
  up: cmdUp,
  deploy: cmdDeploy,
  status: cmdStatus,
  history: cmdHistory,
  drill: cmdDrill,
  undo: cmdUndo,
  logs: cmdLogs,
  events: cmdEvents,
  validate: cmdValidate,
  apply: cmdApply,
  service: cmdService,
  reload: cmdReload,
  certs: cmdCerts,
  dashboard: cmdDashboard,
  promote: (a) => cmdRollout('promote', a),
  abort: (a) => cmdRollout('abort', a),
  pause: (a) => cmdRollout('pause', a),
  resume: (a) => cmdRollout('resume', a),
  retry: (a) => cmdRollout('retry', a),
  'set-weight': cmdSetWeight,
  rules: cmdRules,
  limits: cmdLimits,
  token: cmdToken,
  audit: cmdAudit,
  state: cmdState,
  host: cmdHost,
  cluster: cmdCluster,
};

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') return help('main');
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`cutover: unknown command "${cmd}"\n\n${HELP.main}\n`);
    return EXIT.usage;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof UnreachableError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return EXIT.unreachable;
    }
    if (err instanceof StateDamagedError || err instanceof StartupError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return EXIT.failed;
    }
    if (err instanceof ApiResponseError) {
      process.stderr.write(`cutover ${cmd}: ${err.message}\n`);
      return err.status === 400 ? EXIT.usage : EXIT.failed;
    }
    throw err;
  }
}
