import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from '../../config/load.ts';
import { help, parse, resolveAddr } from '../args.ts';
import { EXIT } from '../exit.ts';

/** Commands that open a URL in the desktop's browser, tried in order. */
const OPENERS = ['/usr/bin/xdg-open', '/usr/bin/open'];

/** `cutover dashboard`: prints the web dashboard's URL (and where the local admin token is); --open opens it. */
export async function cmdDashboard(argv: string[]): Promise<number> {
  const { values } = parse('dashboard', argv, { open: { type: 'boolean' } });
  if (values.help) return help('dashboard');
  const base = resolveAddr(values.config);
  const url = `${base.includes('://') ? base : `http://${base}`}/`;
  const file = values.config ?? 'cutover.yaml';
  const loaded = existsSync(file) ? loadConfigFile(file) : undefined;
  if (loaded?.ok && !loaded.config.control.dashboard) {
    process.stderr.write(`cutover dashboard: the dashboard is off in ${file} (control.dashboard: false)\n`);
    return EXIT.failed;
  }
  process.stdout.write(`${url}\n`);
  if (loaded?.ok) {
    const token = path.join(loaded.config.control.dataDir, 'admin.token');
    process.stderr.write(`sign in with a token; the local admin token is in ${token}\n`);
  }
  if (values.open) {
    const opener = OPENERS.find((o) => existsSync(o));
    if (!opener) {
      process.stderr.write('cutover dashboard: no browser opener found (xdg-open); open the URL yourself\n');
      return EXIT.ok;
    }
    spawn(opener, [url], { detached: true, stdio: 'ignore' }).unref();
  }
  return EXIT.ok;
}
