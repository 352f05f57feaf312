/**
 * The gateway's load balancer health endpoint (`health.path`) and `PUT /serving`, on real gateway processes,
 * and a real HAProxy taking a gateway out of rotation and back without a failed request.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { signalGroup } from '../src/runtime/process-group.ts';
import { makeCa, makeLeaf } from './helpers/certs.ts';
import {
  Gate,
  type Reply,
  request,
  service,
  startUpstream,
  table,
  upstream,
  waitFor,
} from './helpers/gateway-helpers.ts';
import {
  admin,
  gatewayHealth,
  type RunningGateway,
  settingsIn,
  spawnGateway,
  tempDir,
} from './helpers/gateway-process.ts';
import { startHaproxy } from './helpers/haproxy.ts';
import { startLoad } from './helpers/load.ts';
import { h2Get, httpsGet } from './helpers/tls-client.ts';

const T = { timeout: 90_000 };
const HEALTH = '/_cutover/health';

function health(port: number, opts: { method?: string; host?: string } = {}): Promise<Reply> {
  return request(port, HEALTH, opts);
}

/**
 * The health answer of each worker on its own: the others are stopped (SIGSTOP) meanwhile, so the one
 * left is the one that accepts.
 */
async function healthOfEachWorker(gw: RunningGateway): Promise<Reply[]> {
  const pids = (await gatewayHealth(gw.admin)).workerPids;
  assert.ok(pids.length >= 2, `expected at least 2 workers, got ${pids.length}`);
  const out: Reply[] = [];
  for (const pid of pids) {
    const others = pids.filter((p) => p !== pid);
    for (const p of others) process.kill(p, 'SIGSTOP');
    try {
      out.push(await health(gw.port));
    } finally {
      for (const p of others) process.kill(p, 'SIGCONT');
    }
  }
  return out;
}

function bodies(replies: Reply[]): string[] {
  return replies.map((r) => `${r.status} ${r.body}`);
}

test(
  'health: 200 with the route table version for any Host, exact path only, HEAD, not a service request',
  T,
  async (t) => {
    const dir = tempDir(t);
    const up = await startUpstream(t, 'web');
    const gw = await spawnGateway(t, settingsIn(dir, { workers: 2, hostName: 'gw-a' }));

    const before = await health(gw.port);
    assert.equal(before.status, 503, 'no route table yet');
    assert.deepEqual(JSON.parse(before.body), { status: 'starting', reason: 'no route table yet' });

    await admin(gw.admin, 'PUT', '/routes', table(4, service('web', [upstream('web-1', up.port)])));
    const ok = await health(gw.port, { host: 'anything.example:8080' });
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { status: 'serving', host: 'gw-a', routesVersion: 4 });
    assert.equal(ok.headers['content-type'], 'application/json');
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.equal((await request(gw.port, `${HEALTH}?from=lb`)).status, 200, 'query ignored');
    const head = await health(gw.port, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');

    const routed = await request(gw.port, `${HEALTH}x`);
    assert.equal(routed.body, 'ok web', 'a longer path is routed');
    assert.equal((await request(gw.port, HEALTH, { method: 'POST' })).body, 'ok web', 'POST is routed');
    assert.deepEqual(
      up.requests.map((r) => `${r.method} ${r.url}`),
      [`GET ${HEALTH}x`, `POST ${HEALTH}`],
      'health checks never reach the service',
    );

    const stats = (await admin(gw.admin, 'GET', '/stats')).json as {
      services: Record<string, { revisions: Record<string, { requests: number }> }>;
      listeners: { healthChecks: number };
    };
    assert.equal(stats.services.web.revisions['1'].requests, 2, 'only the routed requests count');
    assert.equal(stats.listeners.healthChecks, 4);
  },
);

test(
  'health on every listener: HTTPS with HTTP/1.1 and HTTP/2, and the plain one even when it redirects to https',
  T,
  async (t) => {
    const dir = tempDir(t);
    const ca = makeCa(dir);
    const leaf = makeLeaf(ca, ['gw.example.test']);
    const up = await startUpstream(t, 'web');
    const gw = await spawnGateway(
      t,
      settingsIn(dir, {
        workers: 1,
        hostName: 'gw-tls',
        tls: {
          listen: { host: '127.0.0.1', port: 0 },
          certificates: [{ hosts: ['gw.example.test'], cert: leaf.certFile, key: leaf.keyFile }],
          redirectHttp: true,
          handshakeTimeoutMs: 10_000,
          certDir: `${dir}/certs`,
        },
      }),
    );
    await admin(gw.admin, 'PUT', '/routes', table(2, service('web', [upstream('web-1', up.port)])));
    const serving = { status: 'serving', host: 'gw-tls', routesVersion: 2 };
    const plain = await health(gw.port);
    assert.equal(plain.status, 200, 'not redirected');
    assert.deepEqual(JSON.parse(plain.body), serving);
    assert.equal((await request(gw.port, '/other')).status, 308, 'everything else is redirected');
    const h1 = await httpsGet(gw.tlsPort, 'gw.example.test', ca.certPem, HEALTH);
    assert.equal(h1.alpn, 'http/1.1');
    assert.equal(h1.status, 200);
    assert.deepEqual(JSON.parse(h1.body), serving);
    const h2 = await h2Get(gw.tlsPort, 'gw.example.test', ca.certPem, `${HEALTH}?h2`);
    assert.equal(h2.alpn, 'h2');
    assert.equal(h2.status, 200);
    assert.deepEqual(JSON.parse(h2.body), serving);
    assert.equal(h2.headers['cache-control'], 'no-store');

    await admin(gw.admin, 'PUT', '/serving', { serving: false, reason: 'host drain' });
    const draining = { status: 'draining', reason: 'host drain' };
    const h2Off = await h2Get(gw.tlsPort, 'gw.example.test', ca.certPem, HEALTH);
    assert.equal(h2Off.status, 503);
    assert.deepEqual(JSON.parse(h2Off.body), draining);
    const plainOff = await health(gw.port);
    assert.equal(plainOff.status, 503);
    assert.deepEqual(JSON.parse(plainOff.body), draining);
    assert.equal(up.requests.length, 0, 'no health check reached the service');
  },
);

test('health: false turns the endpoint off: its path is routed like any other', T, async (t) => {
  const dir = tempDir(t);
  const up = await startUpstream(t, 'web');
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 1, health: false }));
  await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
  const r = await health(gw.port);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok web');
});

test(
  'PUT /serving false fails the health check on every worker while requests are served; kept across reload, master re-exec and restart',
  T,
  async (t) => {
    const dir = tempDir(t);
    const up = await startUpstream(t, 'web');
    const settings = settingsIn(dir, { workers: 2, shutdownTimeoutMs: 5000, hostName: 'gw-x' });
    const gw = await spawnGateway(t, settings);
    const masters: number[] = [];
    t.after(() => {
      for (const p of masters) signalGroup(p, 'SIGKILL');
    });
    await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
    const serving = '200 {"status":"serving","host":"gw-x","routesVersion":1}';
    assert.deepEqual(bodies(await healthOfEachWorker(gw)), [serving, serving]);

    const bad = await admin(gw.admin, 'PUT', '/serving', { serving: 'no' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /invalid serving state: serving must be true or false/);

    const off = await admin(gw.admin, 'PUT', '/serving', { serving: false, reason: 'host drain' });
    assert.equal(off.status, 200);
    const workers = (await gatewayHealth(gw.admin)).workerPids;
    assert.deepEqual(off.json, {
      serving: false,
      reason: 'host drain',
      applied: [...workers].sort((a, b) => a - b),
    });
    assert.deepEqual((await admin(gw.admin, 'GET', '/serving')).json, {
      serving: false,
      reason: 'host drain',
    });
    const draining = '503 {"status":"draining","reason":"host drain"}';
    const drained = bodies(await healthOfEachWorker(gw));
    assert.deepEqual(drained, [draining, draining]);
    // Over many connections, as a balancer checks: every answer fails, every request is served.
    const many = await Promise.all(Array.from({ length: 20 }, () => health(gw.port)));
    assert.deepEqual(new Set(bodies(many)), new Set([draining]));
    const served = await Promise.all(Array.from({ length: 20 }, (_, i) => request(gw.port, `/r${i}`)));
    assert.deepEqual(new Set(served.map((r) => r.body)), new Set(['ok web']));

    // A new generation of workers starts not serving.
    const reload = await admin(gw.admin, 'POST', '/reload');
    assert.equal(reload.status, 200);
    assert.deepEqual(bodies(await healthOfEachWorker(gw)), [draining, draining]);

    // So does a new master.
    const reexec = await admin(gw.admin, 'POST', '/reload?master=1');
    assert.equal(reexec.status, 200, JSON.stringify(reexec.json));
    masters.push(reexec.json.pid as number);
    assert.equal(await gw.exited, 0, 'the old master handed over and exited');
    assert.deepEqual(bodies(await healthOfEachWorker(gw)), [draining, draining]);

    const on = await admin(gw.admin, 'PUT', '/serving', { serving: true });
    assert.equal(on.status, 200);
    assert.equal(on.json.serving, true);
    assert.equal((on.json.applied as number[]).length, 2);
    assert.deepEqual(bodies(await healthOfEachWorker(gw)), [serving, serving]);

    // A master started afresh on the same data dir reads the persisted state before it accepts.
    await admin(gw.admin, 'PUT', '/serving', { serving: false, reason: 'host drain' });
    const current = (await gatewayHealth(gw.admin)).pid;
    process.kill(current, 'SIGTERM');
    await waitFor(async () => !isAlive(current), 15_000, 're-executed master stopped');
    const again = await spawnGateway(t, settings);
    assert.deepEqual(bodies(await healthOfEachWorker(again)), [draining, draining]);
  },
);

test('a reload and a master re-exec never fail the health check', T, async (t) => {
  const dir = tempDir(t);
  const up = await startUpstream(t, 'web');
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 2, shutdownTimeoutMs: 5000 }));
  const masters: number[] = [];
  t.after(() => {
    for (const p of masters) signalGroup(p, 'SIGKILL');
  });
  await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
  // A balancer's checks: one new connection each, back to back, for the whole run.
  const answers: string[] = [];
  let checking = true;
  const checker = (async () => {
    while (checking) {
      try {
        const r = await health(gw.port);
        answers.push(String(r.status));
      } catch (err) {
        answers.push(`error ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
  })();
  const checked = (n: number) => {
    const target = answers.length + n;
    return waitFor(() => answers.length >= target, 15_000, `${n} more health checks`);
  };
  await checked(5);
  assert.equal((await admin(gw.admin, 'POST', '/reload')).status, 200);
  await checked(5);
  const reexec = await admin(gw.admin, 'POST', '/reload?master=1');
  assert.equal(reexec.status, 200, JSON.stringify(reexec.json));
  masters.push(reexec.json.pid as number);
  await gw.exited;
  await checked(5);
  checking = false;
  await checker;
  t.diagnostic(`${answers.length} health checks across a reload and a master re-exec`);
  assert.ok(answers.length >= 15);
  assert.deepEqual(
    answers.filter((a) => a !== '200'),
    [],
    `${answers.length} checks`,
  );
});

test(
  'HAProxy takes a gateway told serving:false out of rotation and back, with 0 failed requests',
  T,
  async (t) => {
    const gateways: RunningGateway[] = [];
    const upstreams = [];
    for (const name of ['A', 'B']) {
      const dir = tempDir(t);
      const app = await startUpstream(t, name, (_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ version: name }));
      });
      // Idle keep-alive connections from HAProxy outlive its own idle purge (pool-purge-delay, 5s): the
      // gateway never closes one HAProxy is about to reuse (which would be a 502 unrelated to health).
      const gw = await spawnGateway(
        t,
        settingsIn(dir, { workers: 2, hostName: `gw-${name}`, clientIdleTimeoutMs: 60_000 }),
      );
      await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream(`${name}-1`, app.port)])));
      gateways.push(gw);
      upstreams.push(app);
    }
    const [a, b] = gateways;
    const [appA, appB] = upstreams;
    const lb = await startHaproxy(t, {
      backends: [
        { name: 'A', host: '127.0.0.1', port: a.port },
        { name: 'B', host: '127.0.0.1', port: b.port },
      ],
      healthPath: HEALTH,
      interMs: 100,
      fall: 2,
      rise: 2,
    });
    await lb.waitForState('A', 'UP');
    await lb.waitForState('B', 'UP');

    const load = startLoad(lb.port, { concurrency: 4, pauseMs: 2 });
    t.after(() => load.stop());
    await waitFor(
      () => (load.report.versions.A ?? 0) > 0 && (load.report.versions.B ?? 0) > 0,
      15_000,
      'traffic through HAProxy to both gateways',
    );

    assert.equal(
      (await admin(a.admin, 'PUT', '/serving', { serving: false, reason: 'host drain' })).status,
      200,
    );
    await lb.waitForState('A', 'DOWN');
    // Requests HAProxy sent to A before it went down finish there; once none is left, A gets no new one.
    await waitFor(async () => (await lb.serverStats()).A.current === 0, 10_000, 'A idle in HAProxy');
    const toA = appA.requests.length;
    const toB = appB.requests.length;
    await load.more(200, 'requests while A is down');
    assert.equal(appA.requests.length, toA, 'no new request reached A');
    // Up to `concurrency` of the 200 answered ones may have reached B before `toB` was read.
    assert.ok(appB.requests.length >= toB + 200 - 4, 'every new request reached B');
    assert.equal((await lb.serverStats()).A.check, 'L7STS', 'A fails its check by status (503)');

    assert.equal((await admin(a.admin, 'PUT', '/serving', { serving: true })).status, 200);
    await lb.waitForState('A', 'UP');
    const backToA = appA.requests.length;
    await waitFor(() => appA.requests.length > backToA + 10, 15_000, 'traffic to A again');

    const report = await load.stop();
    t.diagnostic(`${report.ok} ok, ${report.failed} failed, by gateway ${JSON.stringify(report.versions)}`);
    assert.ok(report.ok > 200);
    assert.equal(report.failed, 0, `${report.failures.join('\n')}\n${lb.stdout()}`);
    assert.deepEqual(report.failures, []);
    assert.equal(report.ok, report.sent);
  },
);

test(
  'SIGTERM to the master: health answers 503 from the first moment of the drain while a slow request completes with 200',
  T,
  async (t) => {
    const dir = tempDir(t);
    const gate = new Gate();
    const up = await startUpstream(t, 'web', (req, res) => {
      if (req.url === '/slow') gate.hold(() => res.end('slow done'));
      else res.end('ok web');
    });
    t.after(() => gate.releaseAll());
    const gw = await spawnGateway(t, settingsIn(dir, { workers: 2, shutdownTimeoutMs: 10_000 }));
    await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));

    const slow = request(gw.port, '/slow');
    await waitFor(() => gate.size === 1, 5000, 'the slow request at the instance');

    // An open client connection (a worker accepted it: it answered), with the next request's head begun.
    const conn = await RawConnection.open(gw.port);
    t.after(() => conn.destroy());
    const first = await conn.send(`GET ${HEALTH} HTTP/1.1\r\nHost: lb\r\n\r\n`);
    assert.match(first, /^HTTP\/1\.1 200 /);
    conn.write(`GET ${HEALTH} HTTP/1.1\r\nHost: lb\r\n`);

    process.kill(gw.child.pid!, 'SIGTERM');
    await waitFor(
      () =>
        gw
          .stderr()
          .split('\n')
          .filter((l) => l.includes('"msg":"worker draining"')).length === 2,
      10_000,
      'both workers draining',
    );
    const during = await conn.send('\r\n');
    assert.match(during, /^HTTP\/1\.1 503 /);
    assert.match(during, /\r\nconnection: close\r\n/i);
    assert.match(during, /\r\ncache-control: no-store\r\n/i);
    assert.ok(during.endsWith('{"status":"draining","reason":"gateway shutting down"}'), during);

    gate.releaseAll();
    const done = await slow;
    assert.equal(done.status, 200);
    assert.equal(done.body, 'slow done');
    assert.equal(await gw.exited, 0);
  },
);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One raw client connection: writes bytes as given, reads one response (head + Content-Length body). */
class RawConnection {
  readonly socket: net.Socket;
  #buffer = '';
  #waiter: (() => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buffer += d;
      this.#waiter?.();
    });
    socket.on('end', () => this.#waiter?.());
    socket.on('close', () => this.#waiter?.());
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  write(text: string): void {
    this.socket.write(text, 'latin1');
  }

  /** Writes `text`, resolves with the next whole response (throws if the connection closes first). */
  async send(text: string): Promise<string> {
    this.write(text);
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end !== -1) {
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(this.#buffer.slice(0, end))?.[1] ?? 0);
        if (this.#buffer.length >= end + 4 + length) {
          const response = this.#buffer.slice(0, end + 4 + length);
          this.#buffer = this.#buffer.slice(end + 4 + length);
          return response;
        }
      }
      if (this.socket.destroyed || this.socket.readableEnded)
        throw new Error(`connection closed before a whole response; got ${JSON.stringify(this.#buffer)}`);
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
      this.#waiter = null;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
