import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { checkFile } from '../../store/integrity.ts';
import { STATE_FILE } from '../../store/open.ts';
import { RestoreRefusedError, restoreSnapshot } from '../../store/restore.ts';
import { snapshotInfo } from '../../store/snapshot.ts';
import { help, parse } from '../args.ts';
import { EXIT, UsageError } from '../exit.ts';
import { HELP } from '../help.ts';

/** How long a silent control port may take to accept before it counts as no controller. */
const CONTROLLER_PROBE_TIMEOUT_MS = 1000;

/** True when something accepts connections on the controller's control port. */
function controllerAnswers(host: string, port: number): Promise<boolean> {
  const target = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return new Promise((resolve) => {
    const sock = net.connect({ host: target, port });
    const done = (answers: boolean) => {
      sock.destroy();
      resolve(answers);
    };
    sock.setTimeout(CONTROLLER_PROBE_TIMEOUT_MS, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** A refusal of `state restore`: one line on stderr, exit 1. */
function fail(message: string): number {
  process.stderr.write(`cutover state: ${message}\n`);
  return EXIT.failed;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `cutover state check|restore`: works on the files, without a controller. */
export async function cmdState(argv: string[]): Promise<number> {
  const { values, positionals } = parse('state', argv, {
    json: { type: 'boolean' },
    force: { type: 'boolean' },
  });
  if (values.help) return help('state');
  const [sub, ...rest] = positionals;
  if ((sub !== 'check' && sub !== 'restore') || rest.length > 0) {
    throw new UsageError(
      `expected check or restore${sub ? `, got "${positionals.join(' ')}"` : ''}\n\n${HELP.state}`,
    );
  }
  if (values.force && sub !== 'restore') throw new UsageError('--force is only valid with restore');
  const configFile = values.config ?? 'cutover.yaml';
  const r = loadConfigFile(configFile);
  if (!r.ok) {
    process.stderr.write(`${formatIssues(r.issues, configFile)}\n`);
    return EXIT.usage;
  }
  const dataDir = r.config.control.dataDir;
  return sub === 'check'
    ? check(dataDir, values.json === true)
    : restore(dataDir, r.config.control.listen, values.force === true, values.json === true);
}

function check(dataDir: string, json: boolean): number {
  const file = path.join(dataDir, STATE_FILE);
  const exists = existsSync(file);
  // checkFile would create a missing file; a missing database is not a damaged one.
  const damage = exists ? checkFile(file) : undefined;
  const snap = snapshotInfo(dataDir);
  const snapDamage = snap ? checkFile(snap.file) : undefined;
  if (json) {
    const snapshot = snap && { file: snap.file, takenAt: snap.takenAt, ok: !snapDamage, damage: snapDamage };
    process.stdout.write(`${JSON.stringify({ file, exists, ok: !damage, damage, snapshot }, null, 2)}\n`);
  } else {
    const state = !exists
      ? `${file} does not exist yet (cutover up creates it)`
      : damage
        ? `${file} is DAMAGED (${damage})`
        : `${file}: ok`;
    const snapshot = !snap
      ? 'no snapshot yet'
      : snapDamage
        ? `snapshot ${snap.file} (taken ${iso(snap.takenAt)}) is DAMAGED (${snapDamage})`
        : `snapshot ${snap.file}: ok, taken ${iso(snap.takenAt)}`;
    process.stdout.write(`${state}\n${snapshot}\n`);
    if (damage && snap && !snapDamage) process.stdout.write(`next: cutover state restore\n`);
  }
  return damage ? EXIT.failed : EXIT.ok;
}

async function restore(
  dataDir: string,
  listen: { host: string; port: number },
  force: boolean,
  json: boolean,
): Promise<number> {
  if (await controllerAnswers(listen.host, listen.port)) {
    return fail(
      `the controller is running (its control API at ${listen.host}:${listen.port} answers); stop it first, nothing was changed`,
    );
  }
  let r: ReturnType<typeof restoreSnapshot>;
  try {
    r = restoreSnapshot(dataDir, { force });
  } catch (err) {
    if (err instanceof RestoreRefusedError) return fail(err.message);
    // A file system refusal (permissions, full disk) is the operator's to fix, not a bug.
    if (typeof (err as NodeJS.ErrnoException).code === 'string') {
      return fail(`cannot restore: ${(err as Error).message}`);
    }
    throw err;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ restored: true, ...r }, null, 2)}\n`);
  } else {
    const kept = r.kept ? `; the ${r.damage ? 'damaged' : 'replaced'} file is kept as ${r.kept}` : '';
    process.stdout.write(
      `restored ${r.file} from the snapshot taken ${iso(r.snapshot.takenAt)}${kept}\nnext: cutover up\n`,
    );
  }
  return EXIT.ok;
}
