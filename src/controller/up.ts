import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApiServer, listen } from '../api/server.ts';
import type { CutoverConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { Supervisor } from '../runtime/supervisor.ts';
import { Store } from '../store/store.ts';
import { Controller } from './controller.ts';
import { GatewayProcess } from './gateway-process.ts';

/** A running `cutover up`. */
export interface Running {
  controller: Controller;
  /** Graceful stop: the gateway finishes in-flight requests, then every instance is stopped. */
  stop(): Promise<void>;
}

function killGroup(pid: number | undefined, log: Logger, what: string): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
    log.warn(`killed a leftover ${what} from an earlier run`, { pid });
  } catch {}
}

/**
 * Processes left by a controller that died without cleaning up. Until instances can be
 * re-adopted on restart, they are stopped so the new run starts from a clean slate.
 */
function cleanupLeftovers(config: CutoverConfig, store: Store, log: Logger): void {
  const pidFile = path.join(config.control.dataDir, 'gateway.pid');
  if (existsSync(pidFile)) killGroup(Number(readFileSync(pidFile, 'utf8')), log, 'gateway');
  for (const i of store.instances()) {
    killGroup(i.pid, log, 'instance');
    store.deleteInstance(i.id);
  }
}

/** Starts gateway, supervisor, controller and control API for a validated config. */
export async function startUp(config: CutoverConfig, log: Logger): Promise<Running> {
  const store = new Store(config.control.dataDir);
  cleanupLeftovers(config, store, log);
  const gateway = new GatewayProcess(config, log.child({ component: 'gateway' }));
  await gateway.start();
  const pidFile = path.join(config.control.dataDir, 'gateway.pid');
  writeFileSync(pidFile, String(gateway.pid));
  const supervisor = new Supervisor({ log: log.child({ component: 'supervisor' }) });
  const controller = new Controller({ config, store, supervisor, gateway: gateway.client, log });
  gateway.onRestart = () => {
    writeFileSync(pidFile, String(gateway.pid));
    controller.syncRoutes(true).catch(() => {});
  };
  // The gateway may hold a table from an earlier run: replace it before anything else.
  await controller.syncRoutes(true);
  controller.start();
  const api = createApiServer(controller, log.child({ component: 'api' }));
  const addr = await listen(api, config.control.listen.host, config.control.listen.port);
  log.info('cutover up', {
    gateway: `${config.gateway.listen.host}:${config.gateway.listen.port}`,
    control: `${addr.address}:${addr.port}`,
    services: Object.keys(config.services),
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down: gateway finishes in-flight requests, then instances stop');
      api.close();
      api.closeAllConnections();
      await gateway.stop();
      await controller.shutdown();
      rmSync(pidFile, { force: true });
      store.close();
      log.info('shut down');
    })();
    return stopping;
  };
  return { controller, stop };
}
