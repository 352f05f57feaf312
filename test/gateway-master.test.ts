/** The real gateway process tree: master + forked workers sharing one listening socket. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  Gate,
  request,
  service,
  startUpstream,
  table,
  upstream,
  waitFor,
} from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';

const T = { timeout: 60_000 };

test(
  'master end-to-end: PUT /routes, traffic on every worker, a SIGKILLed worker is re-forked and serves',
  T,
  async (t) => {
    const dir = tempDir(t);
    const up = await startUpstream(t, 'web');
    const gw = await spawnGateway(t, settingsIn(dir, { workers: 2 }));

    const health = await admin(gw.admin, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.json.workers, 2);
    const pids = health.json.workerPids as number[];
    assert.equal(pids.length, 2);

    // No table yet: every request is a 404.
    assert.equal((await request(gw.port, '/')).status, 404);

    const bad = await admin(gw.admin, 'PUT', '/routes', {
      version: 1,
      services: [{ name: 'web', host: '*', pathPrefix: 'nope', balance: 'sticky', upstreams: [] }],
    });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /pathPrefix must be a string starting with "\/"/);
    assert.match(
      String(bad.json.error),
      /balance must be one of roundRobin, leastInFlight, random, p2c, hash/,
    );
    const notJson = await admin(gw.admin, 'PUT', '/routes', '{');
    assert.equal(notJson.status, 400);

    const routes = table(1, service('web', [upstream('web-1', up.port)]));
    const put = await admin(gw.admin, 'PUT', '/routes', routes);
    assert.deepEqual(put, { status: 200, json: { version: 1 } });
    assert.deepEqual((await admin(gw.admin, 'GET', '/routes')).json, routes);

    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => request(gw.port, `/r${i}`)));
    assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));

    // Each worker serves alone while the other is stopped (SIGSTOP): both workers accept on the shared socket.
    for (const [i, pid] of pids.entries()) {
      const other = pids[1 - i];
      process.kill(other, 'SIGSTOP');
      try {
        const r = await request(gw.port, `/only-${pid}`);
        assert.equal(r.status, 200);
      } finally {
        process.kill(other, 'SIGCONT');
      }
    }

    // SIGKILL one worker: the master re-forks it at once with the current table.
    process.kill(pids[0], 'SIGKILL');
    let newPid = 0;
    await waitFor(
      async () => {
        const h = await admin(gw.admin, 'GET', '/healthz');
        const now = h.json.workerPids as number[];
        newPid = now.find((p) => !pids.includes(p)) ?? 0;
        return now.length === 2 && newPid !== 0;
      },
      10_000,
      're-forked worker',
    );
    // Prove the new worker serves with the current table: stop the surviving old one while we ask.
    process.kill(pids[1], 'SIGSTOP');
    try {
      for (let i = 0; i < 5; i++) assert.equal((await request(gw.port, `/after-${i}`)).body, 'ok web');
    } finally {
      process.kill(pids[1], 'SIGCONT');
    }
    assert.ok(gw.child.exitCode === null, 'master still running');
  },
);

test(
  'GET /inflight sums exact per-instance counts over all workers while requests are held',
  T,
  async (t) => {
    const dir = tempDir(t);
    const gate = new Gate();
    const a = await startUpstream(t, 'a', (_req, res) => gate.hold(() => res.end('a')));
    const b = await startUpstream(t, 'b', (_req, res) => gate.hold(() => res.end('b')));
    t.after(() => gate.releaseAll());
    const gw = await spawnGateway(t, settingsIn(dir, { workers: 2 }));
    await admin(
      gw.admin,
      'PUT',
      '/routes',
      table(
        3,
        service('a', [upstream('a-1', a.port)], { pathPrefix: '/a' }),
        service('b', [upstream('b-1', b.port)], { pathPrefix: '/b' }),
      ),
    );
    const pending = [
      ...Array.from({ length: 4 }, (_, i) => request(gw.port, `/a/${i}`)),
      ...Array.from({ length: 3 }, (_, i) => request(gw.port, `/b/${i}`)),
    ];
    await waitFor(() => gate.size === 7, 5000, 'seven held requests');
    assert.deepEqual((await admin(gw.admin, 'GET', '/inflight')).json, { instances: { 'a-1': 4, 'b-1': 3 } });
    gate.releaseAll();
    assert.deepEqual(
      (await Promise.all(pending)).map((r) => r.status),
      [200, 200, 200, 200, 200, 200, 200],
    );
    await waitFor(
      async () => {
        const r = await admin(gw.admin, 'GET', '/inflight');
        return JSON.stringify(r.json) === JSON.stringify({ instances: { 'a-1': 0, 'b-1': 0 } });
      },
      3000,
      'counts back to 0',
    );
  },
);

test('a retired instance shows in /inflight until its slow request completes', T, async (t) => {
  const dir = tempDir(t);
  const old = await startUpstream(t, 'old', (_req, res) => {
    setTimeout(() => res.end('old done'), 3000);
  });
  const next = await startUpstream(t, 'new');
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 2 }));
  await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('old-1', old.port)])));
  const slow = request(gw.port, '/slow');
  await waitFor(() => old.requests.length === 1, 3000, 'slow request at the old instance');
  const put = await admin(
    gw.admin,
    'PUT',
    '/routes',
    table(2, service('web', [upstream('new-1', next.port)])),
  );
  assert.equal(put.status, 200);
  assert.deepEqual((await admin(gw.admin, 'GET', '/inflight')).json, {
    instances: { 'new-1': 0, 'old-1': 1 },
  });
  assert.equal((await request(gw.port, '/fresh')).body, 'ok new');
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'old done');
  await waitFor(
    async () => !('old-1' in ((await admin(gw.admin, 'GET', '/inflight')).json.instances as object)),
    3000,
    'old instance dropped',
  );
});

test('SIGTERM lets an in-flight request finish, then the master exits 0', T, async (t) => {
  const dir = tempDir(t);
  const slow = await startUpstream(t, 'slow', (_req, res) => {
    setTimeout(() => res.end('finished'), 1500);
  });
  const gw = await spawnGateway(t, settingsIn(dir, { workers: 2, shutdownTimeoutMs: 10_000 }));
  await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('s', slow.port)])));
  const inflight = request(gw.port, '/slow');
  await waitFor(() => slow.requests.length === 1, 3000, 'request at the upstream');
  const started = Date.now();
  gw.child.kill('SIGTERM');
  const reply = await inflight;
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'finished');
  assert.equal(await gw.exited, 0);
  assert.ok(Date.now() - started >= 1000, 'waited for the request');
  assert.ok(!existsSync(gw.admin), 'admin socket removed');
  await assert.rejects(request(gw.port, '/'), /ECONNREFUSED/);
});

test('routes are persisted atomically and reloaded when the gateway restarts', T, async (t) => {
  const dir = tempDir(t);
  const up = await startUpstream(t, 'web');
  const settings = settingsIn(dir, { workers: 1 });
  const first = await spawnGateway(t, settings);
  const routes = table(7, service('web', [upstream('web-1', up.port)]));
  assert.equal((await admin(first.admin, 'PUT', '/routes', routes)).status, 200);
  assert.deepEqual(JSON.parse(readFileSync(settings.routesFile, 'utf8')), routes);
  // An older table is ignored.
  const older = await admin(first.admin, 'PUT', '/routes', table(6, service('web', [])));
  assert.deepEqual(older.json, { version: 7, ignored: true });
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);

  const second = await spawnGateway(t, settings);
  assert.deepEqual((await admin(second.admin, 'GET', '/routes')).json, routes);
  assert.equal((await request(second.port, '/')).body, 'ok web');
});

test('the master outlives the process that started it', T, async (t) => {
  const dir = tempDir(t);
  const up = await startUpstream(t, 'web');
  const settings = settingsIn(dir, { workers: 1 });
  const settingsFile = `${dir}/settings.json`;
  writeFileSync(settingsFile, JSON.stringify(settings));
  const main = new URL('../src/gateway/main.ts', import.meta.url).pathname;
  // A "controller" that starts the gateway detached with piped stdio, prints its pid, and is then killed.
  const script = `
    const { spawn } = require('node:child_process');
    const c = spawn(process.execPath, [${JSON.stringify(main)}, '--settings', ${JSON.stringify(settingsFile)}],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.once('data', () => { console.log(c.pid); });
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['-e', script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let masterPid = 0;
  t.after(() => {
    for (const pid of [parent.pid!, masterPid]) {
      try {
        if (pid) process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  masterPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no pid from parent')), 10_000);
    parent.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
  const parentExited = new Promise((r) => parent.once('exit', r));
  process.kill(-parent.pid!, 'SIGKILL');
  // Gone (and reaped): its ends of the gateway's stdout/stderr pipes are closed.
  await parentExited;
  // Its stdout/stderr pipes are now broken: logging (PUT /routes logs) must not kill it.
  const put = await admin(
    settings.adminSocket,
    'PUT',
    '/routes',
    table(1, service('web', [upstream('w', up.port)])),
  );
  assert.equal(put.status, 200);
  const health = await admin(settings.adminSocket, 'GET', '/healthz');
  assert.equal(health.json.pid, masterPid);
  assert.equal(health.json.workers, 1);
  process.kill(masterPid, 0); // throws if dead
});
