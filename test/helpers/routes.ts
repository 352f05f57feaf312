import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { Security } from '../../src/api/guard.ts';
import { allRoutes, type Route } from '../../src/api/routes.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { GatewayClient } from '../../src/controller/gateway-client.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { Supervisor } from '../../src/runtime/supervisor.ts';
import { Store } from '../../src/store/store.ts';

/** The routes table the control API really dispatches, built on a controller that is never started. */
export function servedRoutes(t: TestContext, configFile: string): Route[] {
  const tmp = mkdtempSync(path.join(tmpdir(), 'cutover-routes-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const loaded = loadConfigFile(configFile);
  if (!loaded.ok) throw new Error(`invalid config ${configFile}`);
  const store = new Store(tmp);
  const ctrl = new Controller({
    config: loaded.config,
    store,
    supervisor: new Supervisor({ log: silentLogger }),
    gateway: new GatewayClient(path.join(tmp, 'none.sock')),
    log: silentLogger,
  });
  const sec = new Security(tmp, silentLogger);
  const routes = allRoutes(ctrl, sec);
  sec.close();
  store.close();
  return routes;
}
