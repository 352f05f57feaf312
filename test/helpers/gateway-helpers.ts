/** Helpers for the gateway tests: real servers on 127.0.0.1:0, a real HTTP client, cleanup via t.after. */
import http from 'node:http';
import net from 'node:net';
import type { TestContext } from 'node:test';
import type {
  GatewaySettings,
  RouteService,
  RouteTable,
  RouteUpstream,
  UpstreamRole,
} from '../../src/gateway/protocol.ts';
import { Gateway } from '../../src/gateway/server.ts';
import { silentLogger } from '../../src/log/logger.ts';

export function gatewaySettings(overrides: Partial<GatewaySettings> = {}): GatewaySettings {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    workers: 1,
    adminSocket: '/nonexistent/admin.sock',
    routesFile: '/nonexistent/routes.json',
    connectTimeoutMs: 1000,
    upstreamTimeoutMs: 5000,
    upstreamIdleTimeoutMs: 4000,
    clientIdleTimeoutMs: 5000,
    requestHeadTimeoutMs: 5000,
    maxBodyBytes: 1024 * 1024,
    retries: 2,
    ejectAfterFailures: 3,
    ejectForMs: 10_000,
    shutdownTimeoutMs: 5000,
    ...overrides,
  };
}

export function upstream(instance: string, port: number): RouteUpstream {
  return { instance, revision: 1, version: 'v1', address: `127.0.0.1:${port}` };
}

/** An upstream with a role and revision (canary / blue-green tables). */
export function roleUpstream(
  instance: string,
  port: number,
  role: UpstreamRole,
  revision: number,
): RouteUpstream {
  return { instance, revision, version: `v${revision}`, address: `127.0.0.1:${port}`, role };
}

export function service(
  name: string,
  upstreams: RouteUpstream[],
  opts: Partial<Omit<RouteService, 'name' | 'upstreams'>> = {},
): RouteService {
  return { name, host: '*', pathPrefix: '/', balance: 'roundRobin', upstreams, ...opts };
}

export function table(version: number, ...services: RouteService[]): RouteTable {
  return { version, services };
}

/** An in-process gateway worker listening on 127.0.0.1:0. */
export async function startGateway(
  t: TestContext,
  routes: RouteTable,
  overrides: Partial<GatewaySettings> = {},
): Promise<{ gw: Gateway; port: number }> {
  const gw = new Gateway(gatewaySettings(overrides), silentLogger);
  gw.applyTable(routes);
  await new Promise<void>((resolve) => gw.server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await gw.shutdown(200);
  });
  return { gw, port: (gw.server.address() as net.AddressInfo).port };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface TestUpstream {
  port: number;
  server: http.Server;
  requests: RecordedRequest[];
  connections: number;
}

/**
 * A node:http upstream that records every request (with its full body) and answers through `handler`
 * (default: 200 "ok <name>").
 */
export async function startUpstream(
  t: TestContext,
  name: string,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest) => void,
): Promise<TestUpstream> {
  const state: TestUpstream = {
    port: 0,
    server: undefined as unknown as http.Server,
    requests: [],
    connections: 0,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString(),
      };
      state.requests.push(rec);
      if (handler) handler(req, res, rec);
      else res.end(`ok ${name}`);
    });
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.server = server;
  t.after(() => closeServer(server));
  return state;
}

export function closeServer(server: http.Server | net.Server): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** A port nothing listens on (connect -> ECONNREFUSED). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

export function request(
  port: number,
  path: string,
  opts: {
    method?: string;
    headers?: http.OutgoingHttpHeaders | string[];
    body?: string | Buffer;
    agent?: http.Agent | false;
    host?: string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        // An array of raw headers makes node:http skip Host: add it like it would.
        headers: Array.isArray(opts.headers) ? ['Host', `127.0.0.1:${port}`, ...opts.headers] : opts.headers,
        agent: opts.agent ?? false,
        setHost: opts.host === undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            reusedSocket: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    if (opts.host !== undefined) req.setHeader('host', opts.host);
    req.on('error', reject);
    req.end(opts.body);
  });
}

export { waitFor } from './wait.ts';

/** Holds requests at an upstream until released. */
export class Gate {
  #waiting: Array<() => void> = [];
  get size(): number {
    return this.#waiting.length;
  }
  hold(fn: () => void): void {
    this.#waiting.push(fn);
  }
  releaseAll(): void {
    const w = this.#waiting;
    this.#waiting = [];
    for (const fn of w) fn();
  }
}
