import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Fleet } from './helpers/fleet.ts';
import { startLoad } from './helpers/load.ts';
import { waitFor } from './helpers/wait.ts';

/** Load through HAProxy, in front of every host's gateway. */
function loadThrough(fleet: Fleet) {
  return startLoad(fleet.haproxy.port, { concurrency: 6, pauseMs: 5 });
}

describe('releases across a fleet of three hosts (etcd, HAProxy in front)', { timeout: 300_000 }, () => {
  test('rolling across the hosts one host at a time under load: 0 failed requests, every host on v2', async (t) => {
    // Given three hosts on v1 behind HAProxy, under load
    const fleet = new Fleet({ hosts: 3, replicas: 2 });
    t.after(() => fleet.destroy());
    await fleet.start(t);
    const load = loadThrough(fleet);
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
});
