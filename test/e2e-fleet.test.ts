/**
 * A fleet end to end: a real 3-member etcd, three `cutover up` hosts on 127.0.0.2-4 and a real
 * HAProxy in front of their gateways (health checks on /_cutover/health), load through HAProxy.
 * One file, so that two fleets never compete for the machine at once.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { signalProcess } from '../src/runtime/process-group.ts';
import { killMarked } from './helpers/cluster.ts';
import { Fleet, type FleetHost } from './helpers/fleet.ts';
import { startLoad } from './helpers/load.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';
import { waitFor } from './helpers/wait.ts';

const CONCURRENCY = 6;

/** Load through HAProxy, in front of every host's gateway. */
function loadThrough(fleet: Fleet) {
  return startLoad(fleet.haproxy.port, { concurrency: CONCURRENCY, pauseMs: 5 });
}

describe('releases across a fleet of three hosts (etcd, HAProxy in front)', { timeout: 300_000 }, () => {
  test('rolling across the hosts one host at a time under load: 0 failed requests, every host on v2', async (t) => {
    // Given three hosts on v1 behind HAProxy, under load
    const fleet = new Fleet({ hosts: 3, replicas: 2 });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');

    // When v2 is deployed through a host that is not the leader
    const before = await fleet.view();
    const via = fleet.hosts.find((h) => h.name !== before.leader)!;
    const r = await via.api<{ generation: number; fleet: boolean }>('POST', '/v1/services/web/deploy', {
      version: 'v2',
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.fleet, true);
    await fleet.waitFor(
      async () => {
        const s = fleet.service(await fleet.view(via));
        return s?.rollout === undefined && s?.lastRollout?.phase === 'Succeeded';
      },
      'the fleet rollout to v2 succeeded',
      120_000,
    );
    await load.more(50);
    const report = await load.stop();

    // Then no request failed, every host serves v2, and the waves went one host at a time
    assert.equal(report.failed, 0, `failed requests: ${report.failures.join(' | ')}`);
    assert.ok(
      (report.versions.v1 ?? 0) > 0 && (report.versions.v2 ?? 0) > 0,
      JSON.stringify(report.versions),
    );
    const view = await fleet.view();
    assert.equal(fleet.service(view)?.desired.version, 'v2');
    assert.equal(view.hosts.length, 3);
    for (const h of view.hosts) {
      assert.equal(h.live, true, h.name);
      assert.equal(h.report?.services.web.stable.version, 'v2', h.name);
      assert.equal(h.report?.services.web.outcome, 'succeeded', h.name);
    }
    for (const h of fleet.hosts) {
      const s = await h.status();
      assert.ok(
        s.instances.length === 2 && s.instances.every((i) => i.version === 'v2'),
        `${h.name}: ${JSON.stringify(s.instances)}`,
      );
    }
    const events = (
      await via.api<{ events: Array<{ type: string; message: string; host?: string }> }>(
        'GET',
        '/v1/fleet/events',
      )
    ).body.events;
    const waves = events.filter((e) => e.type === 'FleetWaveStarted');
    assert.equal(waves.length, 3, JSON.stringify(events.map((e) => e.message)));
    assert.ok(
      waves.every((w) => /^wave web-\d: /.test(w.message)),
      JSON.stringify(waves),
    );
    t.diagnostic(
      `rolling across 3 hosts: ${report.ok}/${report.sent} ok, ${report.failed} failed, versions ${JSON.stringify(report.versions)}`,
    );
  });

  test('a revision that fails on a host is taken back on every host: 0 failed requests', async (t) => {
    // Given three hosts on v1 under load
    const fleet = new Fleet({ hosts: 3, replicas: 1 });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');

    // When v3 (crashes at start-up) is deployed
    const r = await fleet.hosts[0].api('POST', '/v1/services/web/deploy', { version: 'v3' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await fleet.waitFor(
      async () => {
        const s = fleet.service(await fleet.view());
        return s?.rollout === undefined && s?.lastRollout?.phase === 'RolledBack';
      },
      'the fleet rolled back',
      120_000,
    );
    const report = await load.stop();

    // Then every host is back on v1, the reason names the host, and no request failed
    const view = await fleet.view();
    const svc = fleet.service(view)!;
    assert.equal(svc.desired.version, 'v1');
    assert.match(svc.lastRollout?.reason ?? '', /^host web-\d: /);
    for (const h of view.hosts) assert.equal(h.report?.services.web.stable.version, 'v1', h.name);
    assert.equal(report.failed, 0, `failed requests: ${report.failures.join(' | ')}`);
    assert.ok(report.ok > 0);
    assert.equal(report.versions.v3, undefined);
  });

  test('host drain: its gateway fails the health check first, HAProxy stops sending, nothing fails; resume brings it back', async (t) => {
    // Given three hosts behind HAProxy, under load
    const fleet = new Fleet({ hosts: 3, replicas: 1 });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');
    const target = fleet.hosts[1];

    // When web-2 is drained through another host's API
    const r = await fleet.hosts[0].api('POST', `/v1/hosts/${target.name}/drain`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await waitFor(
      async () => (await fleet.haproxy.serverStates())[target.name] === 'DOWN',
      30_000,
      'HAProxy marks web-2 DOWN',
    );
    await waitFor(
      async () => (await fleet.haproxy.serverStats())[target.name]?.current === 0,
      30_000,
      'no request left on web-2',
    );
    const servedBefore = (await target.gatewayStats()).services?.web;
    await load.more(200, 'requests after web-2 is out');
    const servedAfter = (await target.gatewayStats()).services?.web;
    const view = await fleet.view();

    // Then it is drained with its instances running, no request failed, and it got no new requests
    const h = view.hosts.find((x) => x.name === target.name)!;
    assert.equal(h.drained, true);
    assert.equal(h.report?.drained, true);
    assert.equal((await target.status()).instances.length, 1);
    assert.deepEqual(servedAfter, servedBefore);
    const via = fleet.hosts[0];
    const metrics = await fetch(`http://${via.bindHost}:${via.controlPort}/metrics`, {
      headers: { authorization: `Bearer ${via.adminToken()}` },
    });
    const text = await metrics.text();
    assert.equal(metrics.status, 200);
    assert.match(text, /^cutover_fleet_host_drained\{host="web-2"\} 1$/m);
    assert.match(text, /^cutover_fleet_host_up\{host="web-2"\} 1$/m);
    assert.match(text, /^cutover_gateway_up 1$/m, 'the host metrics are still there');
    const unknown = await fleet.hosts[0].api('POST', '/v1/hosts/web-9/drain', {});
    assert.equal(unknown.status, 404);

    // When it is resumed, HAProxy sends to it again
    const back = await fleet.hosts[2].api('POST', `/v1/hosts/${target.name}/resume`, {});
    assert.equal(back.status, 200);
    await waitFor(
      async () => (await fleet.haproxy.serverStates())[target.name] === 'UP',
      30_000,
      'HAProxy marks web-2 UP',
    );
    const report = await load.stop();
    assert.equal(report.failed, 0, `failed requests: ${report.failures.join(' | ')}`);
    assert.ok(report.ok > 0);
  });

  test('blue-green across hosts: a preview on every host, one promote switches them all, abort takes a broken one back; 0 failed', async (t) => {
    // Given three hosts on v1, blue-green, behind HAProxy under load
    const fleet = new Fleet({
      hosts: 3,
      replicas: 1,
      strategy: '{ type: blueGreen, scaleDownDelay: 1s, progressDeadline: 60s }',
    });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');

    // When v2 is deployed, every host starts its preview and the fleet waits for promote
    const d = await fleet.hosts[0].api('POST', '/v1/services/web/deploy', { version: 'v2' });
    assert.equal(d.status, 202, JSON.stringify(d.body));
    await fleet.waitFor(
      async () =>
        fleet.service(await fleet.view())?.rollout?.message === 'every preview ready: waiting for promote',
      'every preview ready',
    );
    await load.more(50, 'requests while the previews wait');
    assert.equal(load.report.versions.v2, undefined, 'no user reaches a preview before the switch');

    // When promoted through another host, every host switches
    const p = await fleet.hosts[2].api('POST', '/v1/services/web/promote', {});
    assert.equal(p.status, 202, JSON.stringify(p.body));
    await fleet.waitFor(
      async () => {
        const s = fleet.service(await fleet.view());
        return s?.rollout === undefined && s?.lastRollout?.phase === 'Succeeded';
      },
      'the fleet switched to v2',
      120_000,
    );
    await waitFor(() => (load.report.versions.v2 ?? 0) >= 20, 30_000, '20 responses from v2');
    for (const h of (await fleet.view()).hosts)
      assert.equal(h.report?.services.web.stable.version, 'v2', h.name);

    // When v3 (never ready) is deployed, promote is refused, and abort takes every host back
    const d3 = await fleet.hosts[1].api('POST', '/v1/services/web/deploy', { version: 'v3' });
    assert.equal(d3.status, 202, JSON.stringify(d3.body));
    const refused = await fleet.hosts[1].api<{ error: { code: string; message: string } }>(
      'POST',
      '/v1/services/web/promote',
      {},
    );
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'not_ready');
    assert.match(refused.body.error.message, /not ready on web-1, web-2, web-3|not ready on any host yet/);
    const a = await fleet.hosts[0].api('POST', '/v1/services/web/abort', {});
    assert.equal(a.status, 202, JSON.stringify(a.body));
    await fleet.waitFor(
      async () => fleet.service(await fleet.view())?.lastRollout?.phase === 'RolledBack',
      'rolled back',
    );
    await load.more(50);
    const report = await load.stop();

    // Then every host is on v2, v3 served nothing, and no request failed
    for (const h of (await fleet.view()).hosts)
      assert.equal(h.report?.services.web.stable.version, 'v2', h.name);
    assert.equal(report.versions.v3, undefined);
    assert.equal(report.failed, 0, `failed requests: ${report.failures.join(' | ')}`);
    assert.ok(report.ok > 0);
    t.diagnostic(
      `blue-green across 3 hosts: ${report.ok}/${report.sent} ok, versions ${JSON.stringify(report.versions)}`,
    );
  });

  test('canary across hosts: the same weights on every host, one fleet promote past the pause; a bad canary aborted by analysis is taken back everywhere', async (t) => {
    // Given three hosts on v1, canary with analysis, behind HAProxy under load
    const fleet = new Fleet({
      hosts: 3,
      replicas: 1,
      strategy:
        '{ type: canary, canaryReplicas: 1, progressDeadline: 60s, steps: [ { setWeight: 30 }, { pause: {} }, { setWeight: 60 }, { pause: { duration: 1s } } ] }',
      serviceYaml: `    analysis:
      interval: 1s
      minRequests: 20
      metrics:
        - name: errors
          errorRate: { max: 0.05 }
    traffic: { stickyBy: header:X-User-Id }
`,
    });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');

    // When v2 is deployed, every host runs the first step and they all wait at the untimed pause
    await deploy(fleet.hosts[0], 'v2');
    await fleet.waitFor(
      async () =>
        /\(pause\) on every host: waiting for promote/.test(
          fleet.service(await fleet.view())?.rollout?.message ?? '',
        ),
      'every host at the pause',
    );
    for (const h of fleet.hosts) {
      const s = await h.status();
      assert.deepEqual(s.weights, { stable: 70, canary: 30 }, h.name);
      assert.equal(s.step?.index, 2, `${h.name}: ${JSON.stringify(s.step)}`);
    }
    await waitFor(() => (load.report.versions.v2 ?? 0) >= 10, 30_000, '10 responses from the v2 canaries');
    // A user gets the same side whichever host's gateway serves them
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const sides = await Promise.all(
      users.map(async (u) => Promise.all(fleet.hosts.map((h) => versionServed(h, u)))),
    );
    const split = sides.map((perHost) => new Set(perHost));
    assert.ok(
      split.every((one) => one.size === 1),
      JSON.stringify(sides.filter((x) => new Set(x).size > 1)),
    );
    const onCanary = sides.filter((x) => x[0] === 'v2').length;
    assert.ok(onCanary > 0 && onCanary < users.length, `${onCanary} of ${users.length} users on the canary`);

    // When promoted through another host, every host goes on to the promotion
    const p = await fleet.hosts[2].api('POST', '/v1/services/web/promote', {});
    assert.equal(p.status, 202, JSON.stringify(p.body));
    await untilFinished(fleet, 'Succeeded');
    await everyHostOn(fleet, 'v2');
    const good = await load.stop();
    assert.equal(good.failed, 0, `failed requests: ${good.failures.join(' | ')}`);

    // When a canary answering 30% of its requests with errors is deployed (v1's code: v3 would not start)
    const bad = loadThrough(fleet);
    t.after(() => bad.stop());
    const d = await fleet.hosts[1].api('POST', '/v1/services/web/deploy', {
      version: 'v1',
      set: ['run.env.ERROR_RATE=0.3'],
    });
    assert.equal(d.status, 202, JSON.stringify(d.body));
    await untilFinished(fleet, 'RolledBack');
    await bad.more(50, 'requests after the rollback');
    const report = await bad.stop();

    // Then analysis took it back on every host, and the only failures are the bad canary's own answers
    const svc = fleet.service(await fleet.view())!;
    assert.match(svc.lastRollout?.reason ?? '', /^host web-\d: .*analysis/);
    await everyHostOn(fleet, 'v2');
    for (const h of fleet.hosts) {
      // The canary's instance drains after the rollback: wait for it to leave.
      await h
        .waitFor(
          async () => {
            const s = await h.status();
            return s.instances.length === 1 && s.instances[0].version === 'v2';
          },
          30_000,
          `${h.name} back to its one v2 instance`,
        )
        .catch(() => {});
      const s = await h.status();
      assert.ok(
        s.instances.length === 1 && s.instances[0].revision === 2,
        `${h.name}: ${JSON.stringify(s.instances)}`,
      );
    }
    assert.ok(report.appErrors > 0, 'the bad canary served some of its errors before the abort');
    if (report.failed !== report.appErrors) {
      // What each host did meanwhile: a gateway answering "no ready instance" had none in its table.
      for (const h of fleet.hosts) {
        const ev = await h.api<{ events: Array<{ time?: string; type: string; message: string }> }>(
          'GET',
          '/v1/events?service=web&limit=30',
        );
        t.diagnostic(`${h.name} events: ${JSON.stringify(ev.body.events)}`);
      }
    }
    assert.equal(
      report.failed,
      report.appErrors,
      `failures beyond the canary's own: ${report.failures.join(' | ')}`,
    );
    t.diagnostic(
      `canary across 3 hosts: good ${good.ok}/${good.sent} ok; bad canary ${report.appErrors} of ${report.sent} answered with its own errors, ${report.failed - report.appErrors} other failures`,
    );
  });
});

test("analysis across hosts: every host judges the whole fleet's counts, so hosts that serve nothing reach the verdict too", async (t) => {
  // Given three hosts whose canary has an analysis step that needs 40 requests, and load on web-1 only
  const fleet = new Fleet({
    hosts: 3,
    replicas: 1,
    strategy:
      '{ type: canary, canaryReplicas: 1, progressDeadline: 60s, steps: [ { setWeight: 50 }, { analysis: { duration: 3s } } ] }',
    serviceYaml: `    analysis:
      interval: 1s
      minRequests: 40
      metrics:
        - name: errors
          errorRate: { max: 0.05 }
`,
  });
  t.after(() => fleet.destroy());
  await fleet.startHosts();
  const web1 = fleet.hosts[0];
  const load = startLoad(web1.gatewayPort, { host: web1.bindHost, concurrency: 4, pauseMs: 5 });
  t.after(() => load.stop());
  await load.more(20, 'load on web-1');

  // When v2 is deployed
  await deploy(fleet.hosts[1], 'v2');
  await untilFinished(fleet, 'Succeeded');
  const report = await load.stop();

  // Then web-2 and web-3, which served no request, passed their analysis step on web-1's counts
  assert.equal(report.failed, 0, report.failures.join(' | '));
  assert.ok((report.versions.v2 ?? 0) >= 40, JSON.stringify(report.versions));
  for (const h of fleet.hosts.slice(1)) {
    const s = await h.status();
    assert.equal(s.lastRollout?.phase, 'Succeeded', `${h.name}: ${JSON.stringify(s.lastRollout)}`);
  }
  await everyHostOn(fleet, 'v2');
  t.diagnostic(`analysis across hosts: ${report.versions.v2} canary responses, all from web-1`);
});

test("tokens and the audit trail are the fleet's: a token made on one host works on every host, each host's requests join one verified chain", async (t) => {
  // Given three hosts
  const fleet = new Fleet({ hosts: 3, replicas: 1 });
  t.after(() => fleet.destroy());
  await fleet.startHosts();
  const [web1, web2, web3] = fleet.hosts;

  // When an admin makes a deployer token on web-1
  const made = await web1.api<{ token: string }>('POST', '/v1/tokens', { name: 'ci', role: 'deployer' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const token = made.body.token;

  // Then it works on web-3 (mirrored from etcd), and a deploy through web-3 with it is audited
  await web3.waitFor(
    async () => (await web3.api('GET', '/v1/services', undefined, token)).status === 200,
    10_000,
    'the token accepted by web-3',
  );
  const d = await web3.api('POST', '/v1/services/web/deploy', { version: 'v2' }, token);
  assert.equal(d.status, 202, JSON.stringify(d.body));
  await untilFinished(fleet, 'Succeeded');
  type Entry = { host: string; actor: string; action: string; status: number };
  await web2.waitFor(
    async () => {
      const a = await web2.api<{ entries: Entry[] }>('GET', '/v1/audit?limit=1000');
      return a.body.entries.some((e) => e.host === 'web-3' && e.actor === 'ci' && e.status === 202);
    },
    10_000,
    "web-3's deploy in the fleet's audit trail, read on web-2",
  );

  // When web-2 revokes it, web-1 refuses it
  const r = await web2.api('DELETE', '/v1/tokens/ci');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await web1.waitFor(
    async () => (await web1.api('GET', '/v1/services', undefined, token)).status === 401,
    10_000,
    'the revoked token refused by web-1',
  );

  // Then one chain holds every host's mutating requests, and it verifies from any host
  await web1.waitFor(
    async () => {
      const a = await web1.api<{ entries: Entry[] }>('GET', '/v1/audit?limit=1000');
      const hosts = new Set(a.body.entries.map((e) => e.host));
      return hosts.has('web-1') && hosts.has('web-2') && hosts.has('web-3');
    },
    10_000,
    'entries of all three hosts in the fleet chain',
  );
  const all = (await web1.api<{ entries: Entry[] }>('GET', '/v1/audit?limit=1000')).body.entries;
  assert.ok(
    all.some((e) => e.host === 'web-1' && e.action.startsWith('token.create')),
    JSON.stringify(all),
  );
  assert.ok(
    all.some((e) => e.host === 'web-2' && e.action.startsWith('token.revoke')),
    JSON.stringify(all),
  );
  const v = await web3.api<{ ok: boolean; entries: number; fleet: boolean }>('GET', '/v1/audit/verify');
  assert.equal(v.status, 200);
  assert.deepEqual([v.body.ok, v.body.fleet], [true, true]);
  assert.ok(v.body.entries >= all.length, `${v.body.entries} verified, ${all.length} listed`);

  // And `cluster import` on a host that had nothing of its own changes nothing and says so
  const imp = await web1.cli(['cluster', 'import', '--json']);
  assert.equal(imp.code, 0, imp.stderr);
  const out = JSON.parse(imp.stdout) as {
    tokens: { imported: string[] };
    audit: { verify: { ok: boolean } };
  };
  assert.deepEqual(out.tokens.imported, []);
  assert.equal(out.audit.verify.ok, true);
});

/** The version the example service answers `user` with, straight from `host`'s gateway. */
function versionServed(host: FleetHost, user: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: host.bindHost,
        port: host.gatewayPort,
        path: '/',
        headers: { 'x-user-id': user },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          try {
            resolve((JSON.parse(body) as { version: string }).version);
          } catch {
            reject(new Error(`${host.name}: ${res.statusCode} ${body}`));
          }
        });
      },
    );
    req.on('error', reject);
  });
}

async function deploy(via: FleetHost, version: string): Promise<void> {
  const r = await via.api('POST', '/v1/services/web/deploy', { version });
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

async function untilFinished(
  fleet: Fleet,
  phase: 'Succeeded' | 'RolledBack',
  via?: FleetHost,
): Promise<void> {
  await fleet.waitFor(
    async () => {
      const s = fleet.service(await fleet.view(via));
      return s?.rollout === undefined && s?.lastRollout?.phase === phase;
    },
    `the fleet rollout ${phase}`,
    150_000,
  );
}

/**
 * Every host reports `version` as stable. Waits for it first: a host that just came back answers its
 * API a moment before its first heartbeat report is in etcd.
 */
async function everyHostOn(fleet: Fleet, version: string, via?: FleetHost): Promise<void> {
  await fleet
    .waitFor(async () => {
      const v = await fleet.view(via);
      return v.hosts.every((h) => h.report?.services.web?.stable.version === version);
    }, `every host reporting ${version}`)
    .catch(() => {}); // the assertions below say what is wrong
  const view = await fleet.view(via);
  assert.ok(view.hosts.length > 0);
  for (const h of view.hosts)
    assert.equal(h.report?.services.web.stable.version, version, `${h.name}: ${JSON.stringify(h.report)}`);
}

describe('a fleet under faults: controllers, hosts and etcd fail mid-rollout', { timeout: 400_000 }, () => {
  test('kill -9 of the leading controller mid-rollout: a standby takes over and finishes, 0 failed requests', async (t) => {
    // Given three hosts rolling out v2 one host at a time, under load
    const fleet = new Fleet({ hosts: 3 });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');
    const before = await fleet.view();
    const leader = fleet.leaderHost(before);
    const standby = fleet.hosts.find((h) => h !== leader)!;
    await deploy(standby, 'v2');
    await fleet.waitFor(
      async () => (fleet.service(await fleet.view(standby))?.rollout?.done.length ?? 0) >= 1,
      'one host done',
    );

    // When the leading controller is killed (its gateway and instances keep running)
    const killedAt = Date.now();
    signalProcess(leader.upPid()!, 'SIGKILL');
    await leader.upExit;
    let takeover = 0;
    await fleet.waitFor(async () => {
      const v = await fleet.view(standby);
      if (v.leader !== null && v.leader !== leader.name) takeover = Date.now() - killedAt;
      return takeover > 0;
    }, 'a standby leads');
    // ... and comes back, as a service manager would restart it
    await leader.startAgain();

    // Then the rollout finishes under the new leader, with no failed request
    await untilFinished(fleet, 'Succeeded', standby);
    await load.more(30);
    const report = await load.stop();
    await everyHostOn(fleet, 'v2', standby);
    assert.equal(report.failed, 0, `failed: ${report.failures.join(' | ')}`);
    assert.ok(report.ok > 0);
    t.diagnostic(
      `leader takeover after kill -9: ${takeover} ms (lease TTL 2 s); ${report.ok} ok, ${report.failed} failed`,
    );
  });

  test('kill -9 of a whole host mid-rollout: failures bounded by what was in flight, the rollout pauses, the host returns and converges', async (t) => {
    // Given three hosts rolling out v2 one host at a time, under load
    const fleet = new Fleet({ hosts: 3 });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');
    await deploy(fleet.hosts[0], 'v2');
    await fleet.waitFor(
      async () => (fleet.service(await fleet.view())?.rollout?.done.length ?? 0) >= 1,
      'one host done',
    );

    // When the last host (not rolled yet) dies with everything on it
    const victim = fleet.hosts[2];
    const failedBefore = load.report.failed;
    killMarked(victim.id);
    await victim.upExit;
    await fleet.waitFor(
      async () => fleet.service(await fleet.view())?.rollout?.phase === 'Paused',
      'the rollout paused on the lost host',
    );
    const paused = fleet.service(await fleet.view())!;
    await waitFor(
      async () => (await fleet.haproxy.serverStates())[victim.name] === 'DOWN',
      30_000,
      'HAProxy marks it DOWN',
    );
    const failedAtKill = load.report.failed - failedBefore;
    await load.more(50);

    // ... and comes back
    await victim.startAgain();
    await untilFinished(fleet, 'Succeeded');
    await load.more(30);
    const report = await load.stop();

    // Then only requests in flight on the dead host failed, and every host runs v2
    assert.match(paused.rollout?.message ?? '', /web-3 lost/);
    assert.ok(
      report.failed <= CONCURRENCY,
      `failed ${report.failed} > ${CONCURRENCY} in flight at most: ${report.failures.join(' | ')}`,
    );
    await everyHostOn(fleet, 'v2');
    t.diagnostic(
      `whole-host kill: ${report.failed} failed of ${report.sent} (${failedAtKill} by the time HAProxy marked it DOWN; at most ${CONCURRENCY} were in flight)`,
    );
  });

  test('etcd: losing one member goes unnoticed; losing quorum pauses the rollout while every gateway serves, and it resumes after', async (t) => {
    // Given three hosts under load, rolling out v2 one host at a time
    const fleet = new Fleet({ hosts: 3 });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');

    // When one etcd member dies, a rollout still runs to the end
    await fleet.etcd.members[0].kill();
    await deploy(fleet.hosts[1], 'v2');
    await untilFinished(fleet, 'Succeeded', fleet.hosts[1]);
    await everyHostOn(fleet, 'v2', fleet.hosts[1]);

    // When quorum is lost mid-rollout
    await deploy(fleet.hosts[1], 'v1');
    await fleet.waitFor(
      async () => (fleet.service(await fleet.view(fleet.hosts[1]))?.rollout?.done.length ?? 0) >= 1,
      'one host done',
    );
    await fleet.etcd.members[1].kill();
    const stuck = await fleet.hosts[1].api('GET', '/v1/fleet');
    await load.more(100, 'requests served without quorum');

    // Then every gateway kept serving; once quorum is back the rollout finishes
    await Promise.all([fleet.etcd.members[0].start(), fleet.etcd.members[1].start()]);
    await untilFinished(fleet, 'Succeeded', fleet.hosts[1]);
    await everyHostOn(fleet, 'v1', fleet.hosts[1]);
    await load.more(30);
    const report = await load.stop();
    assert.equal(stuck.status, 503, JSON.stringify(stuck.body));
    assert.equal(report.failed, 0, `failed: ${report.failures.join(' | ')}`);
    assert.ok((report.versions.v1 ?? 0) > 0 && (report.versions.v2 ?? 0) > 0);
  });

  test('a host cut off from etcd keeps serving and stops nothing; it rejoins when the link is back', async (t) => {
    // Given three hosts, the third one reaching etcd only through a link the test can cut
    const proxies: Array<Awaited<ReturnType<typeof startTcpProxy>>> = [];
    t.after(() => Promise.all(proxies.map((p) => p.close())));
    const fleet = new Fleet({
      hosts: 3,
      endpointsOf: async (i, etcd) => {
        if (i !== 2) return etcd.endpoints;
        const out: string[] = [];
        for (const e of etcd.endpoints) {
          const u = new URL(e);
          const p = await startTcpProxy({ host: u.hostname, port: Number(u.port) });
          proxies.push(p);
          out.push(`http://127.0.0.1:${p.port}`);
        }
        return out;
      },
    });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
    t.after(() => load.stop());
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 20, 30_000, '20 responses from v1');
    const isolated = fleet.hosts[2];
    const before = (await isolated.status()).instances.map((i) => i.id).sort();

    // When its link to etcd is cut for longer than the lease
    for (const p of proxies) p.cut();
    await fleet.waitFor(
      async () => (await fleet.view()).hosts.find((h) => h.name === isolated.name)?.live === false,
      'the others see it lost',
    );
    await load.more(100, 'requests served while it is cut off');
    const during = (await isolated.status()).instances.map((i) => i.id).sort();

    // Then it stopped nothing; once the link is back it is live again
    for (const p of proxies) p.heal();
    await fleet.waitFor(
      async () => (await fleet.view()).hosts.find((h) => h.name === isolated.name)?.live === true,
      'it rejoins',
    );
    const report = await load.stop();
    assert.ok(before.length === 2);
    assert.deepEqual(during, before);
    assert.deepEqual((await isolated.status()).instances.map((i) => i.id).sort(), before);
    assert.equal(report.failed, 0, `failed: ${report.failures.join(' | ')}`);
  });
});
