/**
 * Gateway master entry point: `node src/gateway/main.ts --settings FILE`.
 *
 * Signals: SIGTERM/SIGINT drain and exit; SIGHUP forks a new generation of workers (new code, the
 * settings file re-read) on the same socket; SIGUSR2 re-executes the master (handover.ts). How it was
 * started: `CUTOVER_LISTEN_FD` is an inherited listening socket (a previous master, the controller,
 * systemd socket activation); `CUTOVER_TAKEOVER=1` means an old master started it (see master.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../log/logger.ts';
import { GatewayMaster } from './master.ts';
import type { GatewaySettings } from './protocol.ts';
import { readSettingsFile } from './settings.ts';

function parseArgs(argv: string[]): string {
  const i = argv.indexOf('--settings');
  const file = i === -1 ? undefined : argv[i + 1];
  if (!file) {
    process.stderr.write('usage: node src/gateway/main.ts --settings FILE\n');
    process.exit(2);
  }
  return file;
}

async function main(): Promise<void> {
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const logger = createLogger({ fields: { component: 'gateway', role: 'master', pid: process.pid } });
  const file = parseArgs(process.argv.slice(2));
  let settings: GatewaySettings;
  try {
    settings = readSettingsFile(file);
  } catch (err) {
    logger.error('cannot read gateway settings', { file, error: err });
    process.exit(2);
  }
  // How we were started: an inherited socket (old master, controller, systemd) and/or as a successor.
  const fdText = process.env.CUTOVER_LISTEN_FD;
  const tlsFdText = process.env.CUTOVER_TLS_LISTEN_FD;
  delete process.env.CUTOVER_TLS_LISTEN_FD;
  const tlsListenFd = tlsFdText !== undefined && /^\d+$/.test(tlsFdText) ? Number(tlsFdText) : undefined;
  const takeover = process.env.CUTOVER_TAKEOVER === '1' && typeof process.send === 'function';
  delete process.env.CUTOVER_LISTEN_FD;
  delete process.env.CUTOVER_TAKEOVER;
  const listenFd = fdText !== undefined && /^\d+$/.test(fdText) ? Number(fdText) : undefined;
  // The IPC channel to an old master must not keep us alive or tie our lifetime to it.
  process.channel?.unref();
  process.on('disconnect', () => {});
  const master = new GatewayMaster(settings, logger, path.resolve(file));
  const onSignal = (signal: string) => {
    master.stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => {
    master.reload().catch((err: Error) => logger.error('reload failed', { error: err.message }));
  });
  process.on('SIGUSR2', () => {
    master.reexec().catch((err: Error) => logger.error('master re-exec failed', { error: err.message }));
  });
  process.on('uncaughtException', (err) =>
    logger.error('gateway master error', { error: err, stack: err.stack }),
  );
  try {
    await master.start({ listenFd, tlsListenFd, takeover });
  } catch (err) {
    logger.error('gateway failed to start', { error: err });
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) void main();
