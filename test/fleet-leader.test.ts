/**
 * The leading controller against a real etcd cluster, with hosts played by the test: their
 * heartbeat reports are written to etcd as a host's agent writes them, so the leader's decisions
 * (refusals, waves, rollback, exactly-once commands) are seen without starting instances.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../src/config/load.ts';
import type { CutoverConfig } from '../src/config/types.ts';
import type { FleetServiceState, FleetTarget, HostReport } from '../src/core/fleet/model.ts';
import { FleetClient } from '../src/fleet/client.ts';
import { fleetConfigHash } from '../src/fleet/config-hash.ts';
import { FleetKeys } from '../src/fleet/keys.ts';
import { FleetLeader } from '../src/fleet/leader.ts';
import { Leadership } from '../src/fleet/leadership.ts';
import { createLogger } from '../src/log/logger.ts';
import { EtcdClient } from '../src/store/etcd/client.ts';
import { type EtcdCluster, startEtcdCluster } from './helpers/etcd.ts';
import { waitFor } from './helpers/wait.ts';

const log = createLogger({ level: 'error' });

function config(prefix: string, hosts = 'all'): CutoverConfig {
  const r = parseConfig(
    `cluster:
  etcd: { endpoints: [http://127.0.0.1:2379] }
  host: web-1
  advertise: 127.0.0.1
  prefix: ${prefix}
  leaseTtl: 2s
control: { listen: 127.0.0.1:9999, dataDir: ./data }
services:
  web:
    route: { host: "*", pathPrefix: / }
    version: v1
    hosts: ${hosts}
    run: { command: "true" }
    strategy: { type: rolling, hostsAtOnce: 1 }
`,
    { baseDir: '/tmp', env: {} },
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  return r.config;
}

/** A host as the leader sees it: its report under a lease, acknowledging what it is told at once. */
function report(
  host: string,
  hash: string,
  generation: number,
  stable: FleetTarget,
  outcome: 'succeeded' | 'failed' | 'progressing' = 'succeeded',
): HostReport {
  return {
    host,
    advertise: '127.0.0.1',
    controlPort: 1,
    gatewayPort: 2,
    startedAt: 0,
    reportedAt: Date.now(),
    drained: false,
    configHash: hash,
    services: {
      web: {
        generation,
        stable,
        target: stable,
        phase: 'Healthy',
        outcome,
        message: outcome === 'failed' ? 'revision 2 made no progress for 10s' : undefined,
        ready: 1,
        total: 1,
        routesVersion: 1,
      },
    },
  };
}

describe('the fleet leader (real etcd, hosts played by the test)', { timeout: 90_000 }, () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await startEtcdCluster({ members: 1 });
  });
  after(() => etcd.stop());

  async function stage(
    t: { after: (fn: () => Promise<void> | void) => void },
    prefix: string,
    cfg = config(prefix),
  ) {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new FleetKeys(prefix);
    const leadership = new Leadership({ client, key: keys.leader, candidate: 'web-1', ttlSeconds: 2, log });
    const leader = new FleetLeader({ client, keys, leadership, config: cfg, host: 'web-1', log });
    leadership.start();
    leader.start();
    t.after(async () => {
      leader.stop();
      await leadership.resign().catch(() => {});
      await client.close();
    });
    const fleet = new FleetClient(client, keys);
    const state = async () => {
      const kv = await client.get(keys.service('web'));
      return kv ? (JSON.parse(kv.value) as FleetServiceState) : undefined;
    };
    const join = async (host: string, r: HostReport) => {
      await client.put(keys.member(host), '{}');
      await client.put(keys.host(host), JSON.stringify(r));
    };
    await waitFor(async () => leadership.isLeader(), 10_000, 'the leader elected');
    return { client, keys, fleet, state, join, hash: fleetConfigHash(cfg) };
  }

  const v1 = (cfg: CutoverConfig): FleetTarget => ({ version: 'v1', run: cfg.services.web.run });

  test('a deploy is refused, naming the host, when a host runs a different config; nothing changes', async (t) => {
    const cfg = config('/t1/');
    const s = await stage(t, '/t1/', cfg);
    await s.join('web-1', report('web-1', s.hash, 1, v1(cfg)));
    await s.join('web-2', report('web-2', 'another-config', 1, v1(cfg)));
    await waitFor(async () => (await s.state()) !== undefined, 10_000, 'the first fleet state');
    const before = await s.state();
    const answer = await s.fleet.submit({ service: 'web', type: 'deploy', version: 'v2', actor: 'test' });
    assert.equal(answer.ok, false);
    assert.equal(answer.code, 'config_mismatch');
    assert.match(answer.message, /config of web-2 differs/);
    const after = await s.state();
    assert.equal(after?.generation, before?.generation);
    assert.equal(after?.rollout, undefined);
  });

  test('a deploy is refused when the service names a host that never joined', async (t) => {
    const cfg = config('/t2/', '[web-1, web-9]');
    const s = await stage(t, '/t2/', cfg);
    await s.join('web-1', report('web-1', s.hash, 1, v1(cfg)));
    const answer = await s.fleet.submit({ service: 'web', type: 'deploy', version: 'v2', actor: 'test' });
    assert.equal(answer.code, 'unknown_host');
    assert.match(answer.message, /web-9 never joined/);
  });

  test('waves of one host, each acknowledged; a failed host rolls every host back under a new generation', async (t) => {
    const cfg = config('/t3/');
    const s = await stage(t, '/t3/', cfg);
    for (const h of ['web-1', 'web-2', 'web-3']) await s.join(h, report(h, s.hash, 1, v1(cfg)));
    await waitFor(
      async () => Object.keys((await s.state())?.assignments ?? {}).length === 3,
      10_000,
      'three assignments',
    );
    const answer = await s.fleet.submit({ service: 'web', type: 'deploy', version: 'v2', actor: 'test' });
    assert.ok(answer.ok, answer.message);
    const g = answer.generation!;
    const v2: FleetTarget = { version: 'v2', run: cfg.services.web.run };
    // web-1 is the first wave: it acknowledges v2.
    await waitFor(
      async () => (await s.state())?.assignments['web-1']?.generation === g,
      10_000,
      'web-1 assigned v2',
    );
    assert.equal(
      (await s.state())?.assignments['web-2']?.target.version,
      'v1',
      'web-2 waits for the next wave',
    );
    await s.join('web-1', report('web-1', s.hash, g, v2));
    await waitFor(
      async () => (await s.state())?.assignments['web-2']?.target.version === 'v2',
      10_000,
      'web-2 assigned v2',
    );
    // web-2 fails: everyone goes back to v1.
    await s.join('web-2', report('web-2', s.hash, g, v1(cfg), 'failed'));
    await waitFor(async () => (await s.state())?.rollout?.phase === 'RollingBack', 10_000, 'rolling back');
    const back = (await s.state())!;
    assert.ok(
      Object.values(back.assignments).every(
        (a) => a.target.version === 'v1' && a.generation === back.generation,
      ),
    );
    for (const h of ['web-1', 'web-2', 'web-3']) await s.join(h, report(h, s.hash, back.generation, v1(cfg)));
    await waitFor(async () => (await s.state())?.lastRollout?.phase === 'RolledBack', 10_000, 'rolled back');
    const done = (await s.state())!;
    assert.equal(done.desired.version, 'v1');
    assert.match(done.lastRollout?.reason ?? '', /^host web-2: revision 2 made no progress/);
    const events = await s.fleet.events();
    assert.ok(events.length > 0);
    assert.deepEqual(
      events.filter((e) => e.type.startsWith('FleetRoll')).map((e) => e.type),
      ['FleetRolloutStarted', 'FleetRollingBack', 'FleetRolledBack'],
    );
  });

  test('a command submitted while no leader runs is answered once a leader is elected', async (t) => {
    const prefix = '/t4/';
    const cfg = config(prefix);
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    t.after(() => client.close());
    const keys = new FleetKeys(prefix);
    await client.put(keys.member('web-1'), '{}');
    await client.put(keys.host('web-1'), JSON.stringify(report('web-1', fleetConfigHash(cfg), 1, v1(cfg))));
    const pending = new FleetClient(client, keys).submit({ service: 'web', type: 'pause', actor: 'test' });
    await waitFor(
      async () => (await client.range(keys.commands)).kvs.length === 1,
      5000,
      'the command stored',
    );
    await stage(t, prefix, cfg);
    const answer = await pending;
    assert.equal(answer.ok, false);
    assert.equal(answer.code, 'no_rollout');
    assert.equal((await client.range(keys.commands)).kvs.length, 0, 'the command is gone once answered');
  });

  test('a host removed for good: refused while live; once gone, a paused rollout stops waiting for it', async (t) => {
    const cfg = config('/t5/');
    const s = await stage(t, '/t5/', cfg);
    const v2: FleetTarget = { version: 'v2', run: cfg.services.web.run };
    for (const h of ['web-1', 'web-2']) await s.join(h, report(h, s.hash, 1, v1(cfg)));
    await waitFor(
      async () => Object.keys((await s.state())?.assignments ?? {}).length === 2,
      10_000,
      'two assignments',
    );
    assert.equal(await s.fleet.removeHost('web-2'), false, 'a live host is not removed');
    const answer = await s.fleet.submit({ service: 'web', type: 'deploy', version: 'v2', actor: 'test' });
    assert.ok(answer.ok);
    await waitFor(
      async () => (await s.state())?.assignments['web-1']?.generation === answer.generation,
      10_000,
      'web-1 in the wave',
    );
    // web-2 dies for good: the rollout pauses at it
    await s.client.delete(s.keys.host('web-2'));
    await s.join('web-1', report('web-1', s.hash, answer.generation!, v2));
    await waitFor(async () => (await s.state())?.rollout?.phase === 'Paused', 10_000, 'paused on web-2');
    assert.equal(await s.fleet.removeHost('web-2'), true);
    await waitFor(
      async () => (await s.state())?.lastRollout?.phase === 'Succeeded',
      10_000,
      'done without web-2',
    );
    const done = (await s.state())!;
    assert.deepEqual(Object.keys(done.assignments), ['web-1']);
    assert.deepEqual(done.lastRollout?.skipped, ['web-2']);
  });
});
