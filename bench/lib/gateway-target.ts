/** The Cutover gateway as a benchmark target, and its admin socket (route tables, stats). */

import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { LoadBalancer, TrafficPolicy } from '../../src/config/types.ts';
import { masterLaunch } from '../../src/gateway/master-launch.ts';
import type { GatewaySettings, RouteTable } from '../../src/gateway/protocol.ts';
import { freePort, type Managed, tailOf } from './procs.ts';
import { type Env, GATEWAY_MAIN, REPO_ROOT, type Running, waitHttpOk } from './targets.ts';
import type { BenchCert } from './tls-certs.ts';

export interface GatewayRunning extends Running {
  readyLine: string;
  adminSocket: string;
}

export interface GatewayStartOptions {
  main?: string;
  cert?: BenchCert;
  /** Directory name under the temp prefix (several gateways may run in one benchmark). */
  name?: string;
  /** Overrides env.workers. */
  workers?: number;
  /** Wraps the command, e.g. to raise its fd limit (see memory-rows.ts). */
  wrap?: (cmd: string, args: string[]) => { cmd: string; args: string[] };
}

/** The benchmark's one service: every request (any host, any path) to `addresses`. */
export function benchRouteTable(
  version: number,
  addresses: string[],
  balance: LoadBalancer = 'roundRobin',
  policy?: TrafficPolicy,
): RouteTable {
  return {
    version,
    services: [
      {
        name: 'bench',
        host: '*',
        pathPrefix: '/',
        balance,
        ...(policy ? { policy } : {}),
        upstreams: addresses.map((address, i) => ({
          instance: `bench-${i + 1}`,
          revision: 1,
          version: 'bench',
          address,
        })),
      },
    ],
  };
}

/** PUT /routes: answered once every worker applied the table. */
export async function putRoutes(adminSocket: string, table: RouteTable): Promise<void> {
  const put = await adminRequest(adminSocket, 'PUT', '/routes', JSON.stringify(table));
  if (put.status !== 200) {
    throw new Error(`cutover PUT /routes answered ${put.status}: ${put.body.slice(0, 500)}`);
  }
}

/**
 * The Cutover gateway (`src/gateway/main.ts`) with one service whose single instance is the upstream;
 * with `cert` also its HTTPS listener (HTTP/1.1 and h2 by ALPN).
 */
export async function startGateway(
  env: Env,
  upstreamPort: number,
  opts: GatewayStartOptions = {},
): Promise<GatewayRunning> {
  const { cert, main = GATEWAY_MAIN } = opts;
  const dir = path.join(env.tmp, opts.name ?? 'cutover');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const settings: GatewaySettings = {
    listen: { host: '127.0.0.1', port },
    workers: opts.workers ?? env.workers,
    adminSocket: path.join(dir, 'admin.sock'),
    routesFile: path.join(dir, 'routes.json'),
    connectTimeoutMs: 5000,
    upstreamTimeoutMs: 30_000,
    // Below the upstream's 75 s keep-alive timeout (see ANCHORS: reuse race).
    upstreamIdleTimeoutMs: 60_000,
    clientIdleTimeoutMs: 75_000,
    requestHeadTimeoutMs: 10_000,
    maxBodyBytes: 1024 * 1024,
    retries: 1,
    ejectAfterFailures: 5,
    ejectForMs: 1000,
    shutdownTimeoutMs: 3000,
  };
  if (cert) {
    settings.tls = {
      listen: { host: '127.0.0.1', port: 0 },
      certificates: [{ hosts: [cert.servername], cert: cert.certFile, key: cert.keyFile }],
      redirectHttp: false,
      handshakeTimeoutMs: 10_000,
      certDir: path.join(dir, 'certs'),
    };
    // The defaults of `gateway.http2` (src/config/defaults.ts), spelled out.
    settings.http2 = { maxConcurrentStreams: 128, cleartext: false };
  }
  const settingsFile = path.join(dir, 'settings.json');
  writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
  const logFile = path.join(dir, 'stderr.log');
  // This checkout's gateway starts as `cutover up` starts it (master from a bundle); another checkout's
  // main (ab.ts --build ../base/...) runs as given: it may not have master-launch.ts.
  const launch =
    path.resolve(main) === GATEWAY_MAIN
      ? masterLaunch(main, (m, e) => {
          throw new Error(`${m}: ${e}`);
        })
      : { script: main, env: {} };
  const base = { cmd: process.execPath, args: [launch.script, '--settings', settingsFile] };
  const { cmd, args } = opts.wrap ? opts.wrap(base.cmd, base.args) : base;
  const proc = env.procs.start('cutover', cmd, args, {
    cwd: REPO_ROOT,
    // Per-request logging off, like `access_log off` / no logging for nginx and HAProxy.
    env: { ...process.env, ...launch.env, CUTOVER_LOG_LEVEL: 'warn' },
    logFile,
    pipeStdout: true,
  });
  const readyLine = await waitReadyLine(proc, 20_000);
  let listen = `127.0.0.1:${port}`;
  let tlsListen: string | undefined;
  try {
    const ready = JSON.parse(readyLine) as { listen?: string; tlsListen?: string };
    if (typeof ready.listen === 'string') listen = ready.listen;
    if (typeof ready.tlsListen === 'string') tlsListen = ready.tlsListen;
  } catch {
    // keep the configured address
  }
  if (cert && tlsListen === undefined) throw new Error(`cutover reported no tlsListen: ${readyLine}`);
  await putRoutes(settings.adminSocket, benchRouteTable(1, [`127.0.0.1:${upstreamPort}`]));
  const url = `http://${listen}/`;
  await waitHttpOk(url, proc);
  const running = {
    url,
    port: Number(listen.split(':').at(-1)),
    proc,
    readyLine,
    adminSocket: settings.adminSocket,
  };
  if (tlsListen === undefined) return running;
  const tlsUrl = `https://${tlsListen}/`;
  await waitHttpOk(tlsUrl, proc);
  return { ...running, tlsUrl };
}

function waitReadyLine(proc: Managed, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdout = proc.child.stdout;
    if (!stdout) return reject(new Error('cutover stdout not piped'));
    let buf = '';
    const timer = setTimeout(() => {
      reject(new Error(`cutover printed no ready line within ${timeoutMs} ms: ${tailOf(proc.logFile)}`));
    }, timeoutMs);
    const onData = (s: string): void => {
      buf += s;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        try {
          const msg = JSON.parse(line) as { event?: string };
          if (msg.event === 'ready') {
            clearTimeout(timer);
            // Keep draining stdout so the gateway never blocks on a full pipe.
            stdout.off('data', onData);
            stdout.resume();
            resolve(line);
            return;
          }
        } catch {
          // not JSON: ignore
        }
      }
    };
    stdout.setEncoding('utf8').on('data', onData);
    void proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`cutover exited (${code}) before ready: ${tailOf(proc.logFile)}`));
    });
  });
}

export function adminRequest(
  socketPath: string,
  method: string,
  urlPath: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path: urlPath,
        headers: body
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
          : {},
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => {
          text += s;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('admin request timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
