import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApiServer, listen } from '../api/server.ts';
import type { CutoverConfig } from '../config/types.ts';
import { LocalAgent } from '../controller/agent.ts';
import { Controller } from '../controller/controller.ts';
import { GatewayProcess } from '../controller/gateway-process.ts';
import type { Logger } from '../log/logger.ts';
import { processAlive } from '../runtime/process-group.ts';
import { Supervisor } from '../runtime/supervisor.ts';
import { Snapshots } from '../store/snapshot.ts';
import { SqliteStore } from '../store/store.ts';
import { type FleetMember, joinFleet, localServices, openFleet } from './fleet.ts';

/** A running `cutover up`. */
export interface Running {
  controller: Controller;
  /** Graceful stop: the gateway finishes in-flight requests, then every instance is stopped. */
  stop(): Promise<void>;
}

/**
 * The composition root of `cutover up`: wires this host's agent (supervisor + gateway), the
 * store, the controller and the control API for a validated config, and starts them.
 */
export async function startUp(
  fullConfig: CutoverConfig,
  log: Logger,
  opts: { keepRunning?: boolean } = {},
): Promise<Running> {
  // An unreachable etcd stops `up` (naming the endpoints) before anything starts.
  const fleetHandle = fullConfig.cluster ? await openFleet(fullConfig, log) : null;
  const config = fleetHandle ? localServices(fullConfig) : fullConfig;
  // First: a damaged state database must stop `up` before anything is started or taken over.
  const store = new SqliteStore(config.control.dataDir);
  const snapshots = new Snapshots({
    db: store.db,
    dataDir: config.control.dataDir,
    log: log.child({ component: 'store' }),
  });
  const pidFile = path.join(config.control.dataDir, 'gateway.pid');
  const gateway = new GatewayProcess(config, log.child({ component: 'gateway' }));
  const previous = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) || undefined : undefined;
  const supervisor = new Supervisor({ log: log.child({ component: 'supervisor' }) });
  const agent = new LocalAgent(supervisor, gateway.client);
  const controller = new Controller({ config, store, agent, log });
  controller.writeGatewaySettings = (next) => gateway.writeSettings(next);
  controller.load();
  snapshots.start();
  controller.onRolloutFinished = () => snapshots.take('rollout finished');
  // The control listener first: if its port is taken, fail before anything starts (and before an
  // instance could be handed that port).
  const api = createApiServer(
    controller,
    log.child({ component: 'api' }),
    fleetHandle ? (security) => fleetHandle.routes(controller, security) : [],
  );
  const addr = await listen(api, config.control.listen.host, config.control.listen.port);
  // Instances recorded by the last controller whose process is gone (the whole host went down).
  const running = new Set(
    store
      .instances()
      .filter((r) => r.pid !== undefined && processAlive(r.pid))
      .map((r) => r.id),
  );
  await gateway.ensure(previous, (id) => running.has(id));
  writeFileSync(pidFile, String(gateway.pid));
  gateway.onRestart = () => {
    writeFileSync(pidFile, String(gateway.pid));
    controller.syncRoutes(true).catch(() => {});
  };
  await controller.start();
  let member: FleetMember | null = null;
  if (fleetHandle) {
    member = await joinFleet(fleetHandle, {
      config: fullConfig,
      controller,
      controlPort: addr.port,
      setServing: (serving, reason) => gateway.client.setServing(serving, reason),
    });
  }
  log.info('cutover up', {
    gateway: `${config.gateway.listen.host}:${config.gateway.listen.port}`,
    control: `${addr.address}:${addr.port}`,
    services: Object.keys(config.services),
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await member?.leave();
      api.close();
      api.closeAllConnections();
      if (opts.keepRunning) {
        log.info('controller exits; gateway and instances keep running (--keep-running)');
        gateway.detach();
        await controller.shutdown(true);
      } else {
        log.info('shutting down: gateway finishes in-flight requests, then instances stop');
        await gateway.stop();
        await controller.shutdown();
        rmSync(pidFile, { force: true });
      }
      snapshots.stop();
      snapshots.take('shut down');
      store.close();
      log.info('shut down');
    })();
    return stopping;
  };
  return { controller, stop };
}
