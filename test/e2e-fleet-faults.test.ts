import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { signalProcess } from '../src/runtime/process-group.ts';
import { killMarked } from './helpers/cluster.ts';
import { Fleet, type FleetHost } from './helpers/fleet.ts';
import { startLoad } from './helpers/load.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';
import { waitFor } from './helpers/wait.ts';

const CONCURRENCY = 6;

function loadThrough(fleet: Fleet) {
  return startLoad(fleet.haproxy.port, { concurrency: CONCURRENCY, pauseMs: 5 });
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

async function everyHostOn(fleet: Fleet, version: string, via?: FleetHost): Promise<void> {
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
