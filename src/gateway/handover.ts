/**
 * Master re-exec (SIGUSR2, `POST /reload?master=1`): a new master (new code) starts on the inherited
 * listening socket (fd 3, `CUTOVER_LISTEN_FD`) with an IPC channel to the old one (`CUTOVER_TAKEOVER=1`),
 * starts its workers, takes the admin socket over and reports ready; then the old master retires its
 * workers and exits. With TLS its listening socket goes along as fd 4 (`CUTOVER_TLS_LISTEN_FD`). Both sides
 * of that conversation are here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from '../log/logger.ts';
import { RELOAD_TIMEOUT_MS } from './generation.ts';
import type { ServingState } from './health.ts';
import type { NewMasterToOld, OldMasterToNew } from './ipc.ts';
import { gatewaySource, masterLaunch } from './master-launch.ts';
import type { RouteTable } from './protocol.ts';

/**
 * Starts a new master on the listening socket `fd` and resolves once it is ready (its pid), or throws
 * (the new master killed) when it exits or is not ready within RELOAD_TIMEOUT_MS. `started` gets the
 * child at once: route tables applied meanwhile are relayed to it.
 */
export async function startSuccessor(
  settingsFile: string,
  fd: number,
  tlsFd: number | undefined,
  logger: Logger,
  started: (child: ChildProcess | null) => void,
): Promise<{ child: ChildProcess; pid: number }> {
  // The sources as they are on disk now, bundled again: a re-exec is how new gateway code takes over.
  const launch = masterLaunch(gatewaySource('main.ts'), (message, error) => logger.warn(message, { error }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...launch.env,
    CUTOVER_LISTEN_FD: '3',
    CUTOVER_TAKEOVER: '1',
  };
  delete env.NODE_CHANNEL_FD;
  delete env.CUTOVER_TLS_LISTEN_FD;
  if (tlsFd !== undefined) env.CUTOVER_TLS_LISTEN_FD = '4';
  const child = spawn(process.execPath, [launch.script, '--settings', settingsFile], {
    detached: true,
    stdio:
      tlsFd === undefined
        ? ['ignore', 'inherit', 'inherit', fd, 'ipc']
        : ['ignore', 'inherit', 'inherit', fd, tlsFd, 'ipc'],
    env,
    serialization: 'json',
  });
  started(child);
  logger.info('master re-exec: new master starting on the inherited socket', { pid: child.pid });
  const ready = await new Promise<NewMasterToOld | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), RELOAD_TIMEOUT_MS);
    child.on('message', (msg: NewMasterToOld) => {
      if (msg.type !== 'ready') return;
      clearTimeout(timer);
      resolve(msg);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
  if (ready === null) {
    started(null);
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {}
    throw new Error('the new master did not become ready; the old one keeps serving (see the log)');
  }
  return { child, pid: ready.pid };
}

/** Old master side: a table applied after the successor was started goes to it too. */
export function relayRoutes(successor: ChildProcess | null, table: RouteTable): void {
  if (!successor?.connected) return;
  try {
    successor.send({ type: 'routes', table } satisfies OldMasterToNew);
  } catch {}
}

/** Old master side: a serving state set after the successor was started goes to it too. */
export function relayServing(successor: ChildProcess | null, state: ServingState): void {
  if (!successor?.connected) return;
  try {
    successor.send({ type: 'serving', state } satisfies OldMasterToNew);
  } catch {}
}

/** New master side: tables and serving states the old master applies until we are ready. */
export function onRelayed(apply: (table: RouteTable) => void, serving: (state: ServingState) => void): void {
  process.on('message', (msg: OldMasterToNew) => {
    if (msg.type === 'routes') apply(msg.table);
    else if (msg.type === 'serving') serving(msg.state);
  });
}

/** New master side: ready (workers listening, admin socket ours). */
export function reportReady(workers: number): void {
  if (process.send) process.send({ type: 'ready', pid: process.pid, workers } satisfies NewMasterToOld);
}
