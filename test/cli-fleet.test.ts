/**
 * The CLI's fleet commands against a stand-in controller: a real HTTP server on loopback that
 * answers the control API's fixed fleet shapes from a table. It tests the CLI's requests, output
 * and exit codes only; the fleet itself, with real hosts, is tested end to end elsewhere.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import type { ServiceStatus } from '../src/api/status.ts';
import type { StoredFleetEvent } from '../src/fleet/view.ts';
import { fleet, host, rollout, service, serviceReport } from './helpers/fleet-views.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/cutover.mjs');
const TOKEN = 'fleet-cli-test-token';
/** Bound of one CLI run (a hang becomes a failure, not a stuck suite). */
const CLI_TIMEOUT_MS = 30_000;
const HOSTS = ['web-1', 'web-2'];

interface Answer {
  status: number;
  body: unknown;
}
/** Answers by `METHOD /path`; a list is answered in turn, its last answer for good. */
type Routes = Record<string, Answer | Answer[]>;
interface Seen {
  method: string;
  path: string;
  body: string;
}

/** Starts the stand-in controller; refuses a request without the token, as the real one does. */
async function fakeController(t: TestContext, routes: Routes): Promise<{ addr: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const served = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const key = `${req.method} ${req.url}`;
    seen.push({ method: req.method ?? '', path: req.url ?? '', body });
    const reply = (a: Answer) => {
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return reply({ status: 401, body: { error: { code: 'unauthorized', message: 'no valid token' } } });
    const route = routes[key];
    if (!route)
      return reply({ status: 404, body: { error: { code: 'not_found', message: `no route ${key}` } } });
    const n = served.get(key) ?? 0;
    served.set(key, n + 1);
    reply(Array.isArray(route) ? route[Math.min(n, route.length - 1)] : route);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Runs bin/cutover.mjs against `addr` with the token in CUTOVER_TOKEN, from an empty directory. */
function cli(
  t: TestContext,
  addr: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'cutover-cli-fleet-'));
  const p: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, CUTOVER_ADDR: addr, CUTOVER_TOKEN: TOKEN },
  });
  t.after(() => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  });
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    p.stdout?.on('data', (c) => (stdout += c));
    p.stderr?.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), CLI_TIMEOUT_MS);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const ok = (body: unknown): Answer => ({ status: 200, body });
const accepted = (body: unknown): Answer => ({ status: 202, body });

/** What this host's controller says of web (the single-host part of `status`). */
const WEB_STATUS: ServiceStatus = {
  name: 'web',
  phase: 'Healthy',
  strategy: 'rolling',
  replicas: 2,
  route: { host: '*', pathPrefix: '/' },
  stable: { revision: 1, version: 'v1' },
  roles: { stable: { revision: 1, version: 'v1', ready: 2, instances: 2 } },
  instances: [],
};

const PROGRESSING = fleet(
  [host('web-1', { web: serviceReport('v2', 3) }), host('web-2', { web: serviceReport('v1', 2) })],
  [
    service('web', 'v1', 3, HOSTS, {
      rollout: rollout('v1', 'v2', {
        hosts: HOSTS,
        done: ['web-1'],
        wave: ['web-2'],
        message: 'wave web-2: rolling out',
      }),
    }),
  ],
);

const SUCCEEDED = fleet(
  [host('web-1', { web: serviceReport('v2', 3) }), host('web-2', { web: serviceReport('v2', 3) })],
  [
    service('web', 'v2', 3, HOSTS, {
      lastRollout: rollout('v1', 'v2', { hosts: HOSTS, done: HOSTS, phase: 'Succeeded', finishedAt: 9 }),
    }),
  ],
);

const ROLLED_BACK = fleet(
  [host('web-1', { web: serviceReport('v1', 4) }), host('web-2', { web: serviceReport('v1', 4) })],
  [
    service('web', 'v1', 4, HOSTS, {
      lastRollout: rollout('v1', 'v2', {
        hosts: HOSTS,
        phase: 'RolledBack',
        reason: 'host web-2: readiness failed',
        message: 'rolled back: host web-2: readiness failed',
        finishedAt: 9,
      }),
    }),
  ],
);

const DEPLOYED = accepted({
  service: 'web',
  version: 'v2',
  generation: 3,
  message: 'rolling out v2 to 2 host(s), 1 at a time',
  fleet: true,
});

describe('cli in fleet mode (stand-in controller)', { timeout: 120_000 }, () => {
  test('status prints the fleet section after the services: leader, hosts, lagging host, rollout', async (t) => {
    const { addr } = await fakeController(t, {
      'GET /v1/services': ok({ services: [WEB_STATUS] }),
      'GET /v1/fleet': ok(PROGRESSING),
    });
    const r = await cli(t, addr, ['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service web {2}phase Healthy/);
    assert.match(r.stdout, /\nfleet {2}leader web-1\n/);
    assert.match(
      r.stdout,
      /web-2 +live +- +web +v1 +succeeded +2\/2 +2 +lagging: acted on generation 2 of 3/,
    );
    assert.match(
      r.stdout,
      /web: deploy v1 -> v2 Progressing \(generation 3\): 1\/2 done \(web-1\), wave web-2/,
    );
  });

  test('status --json adds the fleet under "fleet"', async (t) => {
    const { addr } = await fakeController(t, {
      'GET /v1/services/web': ok(WEB_STATUS),
      'GET /v1/fleet': ok(SUCCEEDED),
    });
    const r = await cli(t, addr, ['status', 'web', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.name, 'web');
    assert.equal(doc.fleet.leader, 'web-1');
    assert.deepEqual(
      doc.fleet.hosts.map((h: { name: string }) => h.name),
      HOSTS,
    );
  });

  test('status SERVICE on a host that does not run it shows the fleet view of it; an unknown one stays an error', async (t) => {
    const notHere = {
      status: 404,
      body: { error: { code: 'unknown_service', message: 'unknown service "web" (services: api)' } },
    };
    const { addr } = await fakeController(t, {
      'GET /v1/services/web': notHere,
      'GET /v1/fleet': ok(SUCCEEDED),
    });
    const r = await cli(t, addr, ['status', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web: not run on this host\n\nfleet {2}leader web-1\n/);
    const single = await fakeController(t, { 'GET /v1/services/web': notHere });
    const u = await cli(t, single.addr, ['status', 'web']);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /unknown service "web"/);
  });

  test('status of a single host (GET /v1/fleet answers 404) prints no fleet section', async (t) => {
    const { addr, seen } = await fakeController(t, { 'GET /v1/services': ok({ services: [WEB_STATUS] }) });
    const r = await cli(t, addr, ['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service web/);
    assert.doesNotMatch(r.stdout, /fleet/);
    assert.ok(seen.some((s) => s.path === '/v1/fleet'));
  });

  test('deploy --wait follows the fleet to Succeeded: progress on stderr, exit 0', async (t) => {
    const { addr, seen } = await fakeController(t, {
      'POST /v1/services/web/deploy': DEPLOYED,
      'GET /v1/fleet': [ok(PROGRESSING), ok(SUCCEEDED)],
    });
    const r = await cli(t, addr, ['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'rolling out v2 of web across the fleet (generation 3)\nv2 of web runs on every host\n',
    );
    assert.match(r.stderr, /^Progressing v1 -> v2 \(generation 3\): wave web-2, 1\/2 hosts done \(web-1\)/);
    const post = seen.find((s) => s.method === 'POST');
    assert.deepEqual(JSON.parse(post?.body ?? '{}'), { version: 'v2', set: [] });
    assert.ok(seen.filter((s) => s.path === '/v1/fleet').length >= 2);
  });

  test('deploy --wait ends in a fleet rollback: the reason, exit 1', async (t) => {
    const { addr } = await fakeController(t, {
      'POST /v1/services/web/deploy': DEPLOYED,
      'GET /v1/fleet': [ok(PROGRESSING), ok(ROLLED_BACK)],
    });
    const r = await cli(t, addr, ['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /v2 of web was rolled back on every host to v1: host web-2: readiness failed\n$/);
  });

  test('deploy --wait gives up after --timeout while the fleet still rolls out: exit 1', async (t) => {
    const { addr } = await fakeController(t, {
      'POST /v1/services/web/deploy': DEPLOYED,
      'GET /v1/fleet': ok(PROGRESSING),
    });
    const r = await cli(t, addr, ['deploy', 'web', '--version', 'v2', '--wait', '--timeout', '1s']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /timed out waiting for generation 3 of web across the fleet/);
  });

  test('deploy without --wait in fleet mode prints the generation and returns at once', async (t) => {
    const { addr, seen } = await fakeController(t, { 'POST /v1/services/web/deploy': DEPLOYED });
    const r = await cli(t, addr, ['deploy', 'web', '--version', 'v2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'rolling out v2 of web across the fleet (generation 3)\n');
    assert.ok(!seen.some((s) => s.path === '/v1/fleet'));
  });

  test('deploy to a single host (an answer with a revision) prints the revision as before', async (t) => {
    const { addr } = await fakeController(t, {
      'POST /v1/services/web/deploy': accepted({ service: 'web', revision: 2, version: 'v2' }),
    });
    const r = await cli(t, addr, ['deploy', 'web', '--version', 'v2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'rolling out revision 2 (v2) of web\n');
  });

  test('abort --wait in fleet mode prints the answer and follows the rollback (exit 1)', async (t) => {
    const { addr } = await fakeController(t, {
      'POST /v1/services/web/abort': accepted({
        service: 'web',
        generation: 4,
        message: 'rolling every host of web back to v1',
        fleet: true,
      }),
      'GET /v1/fleet': ok(ROLLED_BACK),
    });
    const r = await cli(t, addr, ['abort', 'web', '--wait']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^rolling every host of web back to v1\nv2 of web was rolled back/);
  });

  test('host drain and resume: the message, exit 0; an unknown host: the API message, exit 1', async (t) => {
    const { addr, seen } = await fakeController(t, {
      'POST /v1/hosts/web-2/drain': ok({ host: 'web-2', drained: true }),
      'POST /v1/hosts/web-2/resume': ok({ host: 'web-2', drained: false }),
      'POST /v1/hosts/web-9/drain': {
        status: 404,
        body: { error: { code: 'unknown_host', message: 'no host "web-9" in the fleet' } },
      },
    });
    const drain = await cli(t, addr, ['host', 'drain', 'web-2']);
    assert.equal(drain.code, 0, drain.stderr);
    assert.equal(
      drain.stdout,
      'host web-2 drained: its gateway fails its health check; instances keep running\n',
    );
    const resume = await cli(t, addr, ['host', 'resume', 'web-2']);
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal(resume.stdout, 'host web-2 resumed\n');
    const unknown = await cli(t, addr, ['host', 'drain', 'web-9']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no host "web-9" in the fleet/);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.path}`),
      ['POST /v1/hosts/web-2/drain', 'POST /v1/hosts/web-2/resume', 'POST /v1/hosts/web-9/drain'],
    );
  });

  test('host: a missing or unknown action or name is a usage error (exit 2), nothing sent', async (t) => {
    const { addr, seen } = await fakeController(t, {});
    for (const args of [
      ['host'],
      ['host', 'reboot', 'web-2'],
      ['host', 'drain'],
      ['host', 'drain', 'a', 'b'],
    ]) {
      const r = await cli(t, addr, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Usage: cutover host drain NAME/);
    }
    assert.deepEqual(seen, []);
  });

  test('events --fleet lists the fleet events: time, service, type, host, message', async (t) => {
    const events: StoredFleetEvent[] = [
      { time: 0, service: 'web', type: 'FleetRolloutStarted', generation: 3, message: 'rolling out v2' },
      { time: 1000, service: 'web', type: 'FleetHostDone', host: 'web-1', message: 'host web-1 runs v2' },
      { time: 2000, service: 'api', type: 'HostLost', host: 'web-2', message: 'host web-2 lost' },
    ];
    const { addr } = await fakeController(t, { 'GET /v1/fleet/events': ok({ events }) });
    const all = await cli(t, addr, ['events', '--fleet']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(
      all.stdout,
      [
        '1970-01-01T00:00:00.000Z  web  FleetRolloutStarted  -  rolling out v2',
        '1970-01-01T00:00:01.000Z  web  FleetHostDone  web-1  host web-1 runs v2',
        '1970-01-01T00:00:02.000Z  api  HostLost  web-2  host web-2 lost',
        '',
      ].join('\n'),
    );
    const web = await cli(t, addr, ['events', '--fleet', 'web', '--limit', '1', '--json']);
    assert.equal(web.code, 0, web.stderr);
    assert.deepEqual(JSON.parse(web.stdout).events, [events[1]]);
  });

  test('fleet commands show their help', async (t) => {
    const { addr } = await fakeController(t, {});
    const h = await cli(t, addr, ['host', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: cutover host drain NAME/);
    const e = await cli(t, addr, ['events', '--help']);
    assert.match(e.stdout, /cutover events --fleet/);
  });
});
