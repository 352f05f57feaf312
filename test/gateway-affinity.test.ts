/**
 * Hash affinity through a real gateway (master + 2 workers) with 10,000 keys: a key keeps its instance
 * when nothing changes, whichever worker serves it and across a restart of the gateway; adding an
 * instance moves keys only to the new one (about 1/N of them); an instance leaving moves only its keys.
 *
 * Which worker served a request is read from the kernel, not from the gateway: the upstream looks up
 * the gateway-side port of each connection in /proc/net/tcp and finds the worker holding that socket.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { type TestContext, test } from 'node:test';
import type { RouteService, RouteUpstream } from '../src/gateway/protocol.ts';
import { service, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, gatewayHealth, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

const T = { timeout: 170_000 };
const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
/** Two requests in flight at most: the other one adds at most 1 to an instance, which the load bound
 * (average x 1.25 + 1) always allows, so the mapping is the pure hash and the test can compare it exactly. */
const LANES = 2;
/** Each lane opens a new connection this often, so both workers accept some of them. */
const REQUESTS_PER_CONNECTION = 50;

interface Served {
  instance: string;
  pid: number;
}

/** The inode of the loopback socket whose local port is `localPort` and peer port is `peerPort`. */
function socketInode(localPort: number, peerPort: number): string | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1].endsWith(`:${hex(localPort)}`) && f[2].endsWith(`:${hex(peerPort)}`))
      return f[9];
  }
  return undefined;
}

function ownerOf(inode: string, pids: readonly number[]): number {
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch {
        // the fd closed while we looked
      }
    }
  }
  return 0;
}

/** Upstreams answering with their instance name and the gateway worker whose connection carried it. */
class Instances {
  readonly ports = new Map<string, number>();
  workerPids: number[] = [];
  readonly #owner = new WeakMap<net.Socket, number>();
  readonly #servers: http.Server[] = [];

  async start(t: TestContext, name: string): Promise<RouteUpstream> {
    const server = http.createServer((req, res) => {
      res.end(`${name} ${this.#owner.get(req.socket) ?? 0}`);
    });
    server.on('connection', (socket: net.Socket) => {
      const inode = socketInode(socket.remotePort!, socket.localPort!);
      this.#owner.set(socket, inode === undefined ? 0 : ownerOf(inode, this.workerPids));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    server.unref();
    this.#servers.push(server);
    const port = (server.address() as net.AddressInfo).port;
    this.ports.set(name, port);
    return upstream(name, port);
  }
}

function get(agent: http.Agent, port: number, key: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, headers: { 'x-user': key } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`${key}: ${res.statusCode} ${body}`));
          return;
        }
        const [instance, pid] = body.split(' ');
        resolve({ instance, pid: Number(pid) });
      });
    });
    req.on('error', reject);
  });
}

/** Every key once, over LANES sequential lanes that reconnect every REQUESTS_PER_CONNECTION requests. */
async function homes(port: number): Promise<Served[]> {
  const out: Served[] = new Array(KEYS.length);
  let next = 0;
  const lane = async () => {
    let agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let sent = 0; next < KEYS.length; sent++) {
      if (sent > 0 && sent % REQUESTS_PER_CONNECTION === 0) {
        agent.destroy();
        agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      }
      const i = next++;
      out[i] = await get(agent, port, KEYS[i]);
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  return out;
}

function moved(before: readonly Served[], after: readonly Served[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < before.length; i++) if (before[i].instance !== after[i].instance) out.push(i);
  return out;
}

const hashed = (ups: RouteUpstream[]): RouteService =>
  service('web', ups, { balance: 'hash', policy: { hashKey: { source: 'header', name: 'x-user' } } });

test(
  'hash affinity with 10,000 keys over two workers: stable when nothing changes and across a restart; an added instance takes about 1/N; a leaving instance moves only its keys',
  T,
  async (t) => {
    // Given four instances behind a gateway with two workers, balanced by hash of x-user
    const instances = new Instances();
    const ups: RouteUpstream[] = [];
    for (const name of ['web-1', 'web-2', 'web-3', 'web-4']) ups.push(await instances.start(t, name));
    const settings = settingsIn(tempDir(t), { workers: 2 });
    let gw = await spawnGateway(t, settings);
    instances.workerPids = (await gatewayHealth(gw.admin)).workerPids;
    assert.equal(instances.workerPids.length, 2);
    const put = async (version: number, list: RouteUpstream[]) => {
      const r = await admin(gw.admin, 'PUT', '/routes', table(version, hashed(list)));
      assert.equal(r.status, 200, JSON.stringify(r.json));
    };
    await put(1, ups);

    // When every key is sent twice with nothing changed
    const first = await homes(gw.port);
    const second = await homes(gw.port);

    // Then no key moves, keys spread over all four, and many keys were served by both workers
    const spread = new Map<string, number>();
    for (const s of first) spread.set(s.instance, (spread.get(s.instance) ?? 0) + 1);
    assert.deepEqual([...spread.keys()].sort(), ['web-1', 'web-2', 'web-3', 'web-4']);
    assert.deepEqual(moved(first, second), []);
    const pids = new Set(first.map((s) => s.pid));
    for (const pid of instances.workerPids) assert.ok(pids.has(pid), `worker ${pid} served none of the keys`);
    const acrossWorkers = KEYS.filter((_, i) => first[i].pid !== second[i].pid).length;
    assert.ok(acrossWorkers > 0, 'no key was served by both workers');

    // When a fifth instance joins
    ups.push(await instances.start(t, 'web-5'));
    await put(2, ups);
    const grown = await homes(gw.port);

    // Then only keys that now go to the new instance moved, fewer than 1/N + 2% of them
    const toNew = moved(second, grown);
    assert.ok(toNew.length > 0, 'the new instance got no keys');
    for (const i of toNew) assert.equal(grown[i].instance, 'web-5', `${KEYS[i]} moved elsewhere`);
    assert.ok(toNew.length < KEYS.length * (1 / 5 + 0.02), `${toNew.length} of ${KEYS.length} keys moved`);

    // When one instance leaves, as in a rolling deploy
    const left = ups.filter((u) => u.instance !== 'web-2');
    await put(3, left);
    const shrunk = await homes(gw.port);

    // Then exactly the keys of the instance that left move
    const wasOnWeb2 = KEYS.flatMap((_, i) => (grown[i].instance === 'web-2' ? [i] : []));
    assert.ok(wasOnWeb2.length > 0);
    assert.deepEqual(moved(grown, shrunk), wasOnWeb2);

    // When the gateway restarts (its routes come back from its routes file)
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0, gw.stderr());
    gw = await spawnGateway(t, settings);
    instances.workerPids = (await gatewayHealth(gw.admin)).workerPids;
    const restarted = await homes(gw.port);

    // Then every key is where it was
    assert.deepEqual(moved(shrunk, restarted), []);
    process.stdout.write(
      `# affinity: ${acrossWorkers} keys served by both workers, ${toNew.length} of ${KEYS.length} moved to the added instance, ${wasOnWeb2.length} moved when web-2 left\n`,
    );
  },
);
