import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatIssues, loadConfigFile } from '../../config/load.ts';
import { checkFile } from '../../store/integrity.ts';
import { STATE_FILE } from '../../store/open.ts';
import { RestoreRefusedError, restoreSnapshot } from '../../store/restore.ts';
import { SNAPSHOT_INTERVAL_MS, snapshotInfo } from '../../store/snapshot.ts';
import { EXIT } from '../exit.ts';

/** How long a silent control port may take to accept before it counts as no controller. */
const CONTROLLER_PROBE_TIMEOUT_MS = 1000;

export const STATE_HELP = `Usage: cutover state check [-c FILE] [--json]
       cutover state restore [-c FILE] [--force] [--json]

check verifies <dataDir>/state.db and its snapshot (SQLite quick_check); exit 0 sound, 1 damaged.
restore puts the last snapshot (<dataDir>/state.snapshot.db, taken at start-up, after every
finished rollout, every ${SNAPSHOT_INTERVAL_MS / 60_000} minutes and at a clean stop) in place of a damaged state.db, which is
kept as state.db.damaged-<time>. The controller must not run (a running gateway and its
instances may: the next \`cutover up\` adopts them). An intact state.db is only replaced with
--force, since what changed after the snapshot is lost.`;

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

function fail(message: string, code: number): number {
  process.stderr.write(`cutover state: ${message}\n`);
  return code;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `cutover state check|restore`: works on the files, without a controller. */
export async function cmdState(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseState>;
  try {
    parsed = parseState(argv);
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${STATE_HELP}`, EXIT.usage);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${STATE_HELP}\n`);
    return EXIT.ok;
  }
  const [sub, ...rest] = positionals;
  if ((sub !== 'check' && sub !== 'restore') || rest.length > 0) {
    return fail(
      `expected check or restore${sub ? `, got "${positionals.join(' ')}"` : ''}\n\n${STATE_HELP}`,
      EXIT.usage,
    );
  }
  if (values.force && sub !== 'restore') return fail('--force is only valid with restore', EXIT.usage);
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

function parseState(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      json: { type: 'boolean' },
      force: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
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
      EXIT.failed,
    );
  }
  let r: ReturnType<typeof restoreSnapshot>;
  try {
    r = restoreSnapshot(dataDir, { force });
  } catch (err) {
    if (err instanceof RestoreRefusedError) return fail(err.message, EXIT.failed);
    // A file system refusal (permissions, full disk) is the operator's to fix, not a bug.
    if (typeof (err as NodeJS.ErrnoException).code === 'string') {
      return fail(`cannot restore: ${(err as Error).message}`, EXIT.failed);
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
