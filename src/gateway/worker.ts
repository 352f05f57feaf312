/**
 * Gateway worker process (forked by `main.ts`). Receives the shared listening handle and the settings in
 * an `init` message, serves traffic, applies route tables on request, reports in-flight counts, and drains
 * on SIGTERM/SIGINT, on a `shutdown` message, or when the master goes away.
 */
import { createLogger } from '../log/logger.ts';
import type { MasterToWorker, WorkerToMaster } from './ipc.ts';
import { Gateway } from './proxy.ts';

process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const logger = createLogger({ fields: { component: 'gateway', role: 'worker', pid: process.pid } });
let gateway: Gateway | null = null;
/** How often a worker pushes its counters to the master: at most this much is lost if it crashes. */
const STATS_PUSH_MS = 1000;
let stopping = false;

function send(msg: WorkerToMaster): void {
  if (!process.connected) return;
  try {
    process.send!(msg);
  } catch {
    // master gone: 'disconnect' handles it
  }
}

async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (gateway === null) process.exit(0);
  logger.info('worker draining', { reason: why, inflight: gateway.totalInflight() });
  await gateway.shutdown(gateway.settings.shutdownTimeoutMs);
  logger.info('worker stopped');
  process.exit(0);
}

process.on('message', (msg: MasterToWorker, handle: unknown) => {
  switch (msg.type) {
    case 'init': {
      if (gateway !== null) return;
      const gw = new Gateway(msg.settings, logger);
      gateway = gw;
      gw.applyTable(msg.table);
      gw.listen(handle).then(
        () => {
          send({ type: 'listening' });
          // Unasked (id 0): the master keeps the last counters of a worker that dies (see StatsReport).
          setInterval(
            () => send({ type: 'stats', id: 0, services: gw.statsReport() }),
            STATS_PUSH_MS,
          ).unref();
        },
        (err: Error) => {
          logger.error('worker cannot listen', { error: err });
          process.exit(1);
        },
      );
      return;
    }
    case 'routes':
      gateway?.applyTable(msg.table);
      send({ type: 'ack', id: msg.id, version: msg.table.version });
      return;
    case 'inflight':
      send({ type: 'inflight', id: msg.id, instances: gateway?.inflight() ?? {} });
      return;
    case 'stats':
      send({ type: 'stats', id: msg.id, services: gateway?.statsReport() ?? {} });
      return;
    case 'shutdown':
      void shutdown('master asked');
      return;
  }
});

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGHUP', () => {});
// The master is gone (crashed or killed): finish what is running and leave.
process.on('disconnect', () => void shutdown('master disconnected'));
process.on('uncaughtException', (err) => {
  logger.error('worker crashed', { error: err, stack: err.stack });
  process.exit(1);
});
