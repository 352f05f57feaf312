/**
 * The stage for HTTP/2 and TLS attacks on the real gateway: master + 2 workers with TLS and h2c, an
 * upstream that counts every request that reaches it, a bystander client that keeps doing ordinary
 * requests while the attack runs, and the workers' pids and memory from the admin socket and /proc.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import type { TestContext } from 'node:test';
import type { GatewaySettings, Http2Settings, TlsSettings } from '../../src/gateway/protocol.ts';
import { makeCa, makeLeaf, type TestCa } from './certs.ts';
import { closeServer, service, table, upstream } from './gateway-helpers.ts';
import {
  admin,
  gatewayHealth,
  type RunningGateway,
  settingsIn,
  spawnGateway,
  tempDir,
} from './gateway-process.ts';
import { h2Get, httpsGet } from './tls-client.ts';

export const HOST = 'api.example.test';

export interface CountingUpstream {
  port: number;
  /** Requests whose head reached the upstream (counted on 'request', before any body). */
  requests: number;
  /** Requests held until `release()` when the upstream was started with `hold`. */
  held: http.ServerResponse[];
}

/** An upstream answering 200 "ok" at once, or (hold) keeping every response open until released. */
export async function countingUpstream(
  t: TestContext,
  opts: { hold?: boolean } = {},
): Promise<CountingUpstream> {
  const state: CountingUpstream = { port: 0, requests: 0, held: [] };
  const server = http.createServer((req, res) => {
    state.requests++;
    req.resume();
    if (opts.hold === true && req.url?.startsWith('/slow')) {
      state.held.push(res);
      return;
    }
    res.end('ok');
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  t.after(() => closeServer(server));
  return state;
}

export interface Stage {
  gw: RunningGateway;
  ca: TestCa;
  up: CountingUpstream;
  workerPids: number[];
}

export async function stage(
  t: TestContext,
  opts: {
    http2?: Partial<Http2Settings>;
    tls?: Partial<TlsSettings>;
    settings?: Partial<GatewaySettings>;
    hold?: boolean;
  } = {},
): Promise<Stage> {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const leaf = makeLeaf(ca, [HOST]);
  const up = await countingUpstream(t, { hold: opts.hold });
  const settings = settingsIn(dir, {
    tls: {
      listen: { host: '127.0.0.1', port: 0 },
      certificates: [{ hosts: [HOST], cert: leaf.certFile, key: leaf.keyFile }],
      redirectHttp: false,
      handshakeTimeoutMs: 2000,
      certDir: `${dir}/certs`,
      ...opts.tls,
    },
    http2: { maxConcurrentStreams: 128, cleartext: true, ...opts.http2 },
    ...opts.settings,
  });
  const gw = await spawnGateway(t, settings);
  const put = await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
  assert.equal(put.status, 200);
  const health = await gatewayHealth(gw.admin);
  assert.equal(health.workerPids.length, 2);
  return { gw, ca, up, workerPids: health.workerPids };
}

/** The same workers serve as before the attack: none crashed and was replaced. */
export async function assertWorkersUnchanged(s: Stage): Promise<void> {
  const now = await gatewayHealth(s.gw.admin);
  assert.deepEqual([...now.workerPids].sort(), [...s.workerPids].sort());
}

/** Resident memory of a process in kB (VmRSS in /proc/PID/status). */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

export interface BystanderResult {
  ok: number;
  failures: string[];
}

/**
 * An ordinary client doing requests one after another (HTTP/2 over TLS, HTTPS/1.1 and h2c-free plain
 * HTTP in turn, each on a new connection so the accept path is exercised too) until stopped.
 */
export class Bystander {
  readonly #s: Stage;
  #stopped = false;
  #loop: Promise<void> | null = null;
  readonly result: BystanderResult = { ok: 0, failures: [] };

  constructor(s: Stage) {
    this.#s = s;
  }

  /** Starts the loop; it is stopped when the test ends if the test did not stop it. */
  start(t: TestContext): this {
    this.#loop = this.#run();
    t.after(async () => {
      this.#stopped = true;
      await this.#loop;
    });
    return this;
  }

  /** Stops after at least `min` requests were done, and returns what they got. */
  async stop(min = 3): Promise<BystanderResult> {
    const deadline = Date.now() + 30_000;
    while (this.result.ok + this.result.failures.length < min && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.#stopped = true;
    await this.#loop;
    return this.result;
  }

  /** The gateway's warning log lines so far: what a failure is explained by. */
  #warnings(): string {
    const lines = this.#s.gw
      .stderr()
      .split('\n')
      .filter((l) => /"level":"(warn|error)"/.test(l));
    return lines.length === 0 ? 'none' : lines.slice(-5).join(' | ');
  }

  async #run(): Promise<void> {
    const { gw, ca } = this.#s;
    for (let i = 0; !this.#stopped; i++) {
      try {
        const kind = i % 3;
        const status =
          kind === 0
            ? (await h2Get(gw.tlsPort, HOST, ca.certPem, '/bystander')).status
            : kind === 1
              ? (await httpsGet(gw.tlsPort, HOST, ca.certPem, '/bystander')).status
              : await plainGet(gw.port, '/bystander');
        if (status === 200) this.result.ok++;
        else
          this.result.failures.push(`request ${i}: status ${status}; gateway warnings: ${this.#warnings()}`);
      } catch (err) {
        this.result.failures.push(`request ${i}: ${(err as Error).message}`);
      }
    }
  }
}

/** Asserts the bystander was served throughout: some requests, none failed. */
export function assertServed(r: BystanderResult): void {
  assert.deepEqual(r.failures, []);
  assert.ok(r.ok > 0, 'the bystander did requests');
}

function plainGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, agent: false, headers: { host: HOST } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
