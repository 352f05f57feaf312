/**
 * Spawns the real gateway master as a detached process group, killed in t.after: started as the controller
 * starts it (master-launch.ts: from a bundle of src/gateway/main.ts, or main.ts itself when
 * CUTOVER_MASTER_TS=1).
 */

import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { masterLaunch } from '../../src/gateway/master-launch.ts';
import type { GatewaySettings } from '../../src/gateway/protocol.ts';
import { signalGroup, spawnGroup } from '../../src/runtime/process-group.ts';
import { killMarked } from './cluster.ts';
import { gatewaySettings } from './gateway-helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/gateway/main.ts', import.meta.url));

let launch: ReturnType<typeof masterLaunch> | undefined;
/** Made once per test process: the sources do not change while it runs. */
function masterCommand(): ReturnType<typeof masterLaunch> {
  if (process.env.CUTOVER_MASTER_TS === '1') return { script: MAIN, env: {} };
  launch ??= masterLaunch(MAIN, (message, error) => {
    throw new Error(`${message}: ${error}`);
  });
  return launch;
}

export interface RunningGateway {
  child: ChildProcess;
  port: number;
  /** The HTTPS listener's port (0 without `tls`). */
  tlsPort: number;
  admin: string;
  settings: GatewaySettings;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-gw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function settingsIn(dir: string, overrides: Partial<GatewaySettings> = {}): GatewaySettings {
  return gatewaySettings({
    workers: 2,
    adminSocket: path.join(dir, 'admin.sock'),
    routesFile: path.join(dir, 'state', 'routes.json'),
    ...overrides,
  });
}

export async function spawnGateway(t: TestContext, settings: GatewaySettings): Promise<RunningGateway> {
  const file = path.join(path.dirname(settings.adminSocket), `settings-${Date.now()}-${Math.random()}.json`);
  writeFileSync(file, JSON.stringify(settings));
  // Every process of this gateway carries the marker, including masters it re-execs (their own
  // process groups) and orphaned workers, so cleanup finds them all.
  const marker = randomUUID();
  const master = masterCommand();
  const env: NodeJS.ProcessEnv = { ...process.env, ...master.env, CUTOVER_TEST_RUN: marker };
  delete env.NODE_TEST_CONTEXT;
  const child = spawnGroup(process.execPath, [master.script, '--settings', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  t.after(() => {
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    killMarked(marker);
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<{ listen: string; tlsListen?: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gateway not ready in 10s; stderr:\n${err}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}; stderr:\n${err}`)));
  });
  const port = Number(ready.listen.slice(ready.listen.lastIndexOf(':') + 1));
  const tlsPort =
    ready.tlsListen === undefined ? 0 : Number(ready.tlsListen.slice(ready.tlsListen.lastIndexOf(':') + 1));
  return { child, port, tlsPort, admin: settings.adminSocket, settings, stderr: () => err, exited };
}

export function admin(
  socketPath: string,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

/** The body of the gateway's GET /healthz (the fields the tests read). */
export interface GatewayHealth {
  ok: boolean;
  pid: number;
  workers: number;
  workerPids: number[];
  generation: number;
  retiringPids: number[];
}

export async function gatewayHealth(socketPath: string): Promise<GatewayHealth> {
  return (await admin(socketPath, 'GET', '/healthz')).json as unknown as GatewayHealth;
}
