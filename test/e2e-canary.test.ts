import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { allOnVersion, type Cluster, useCluster } from './helpers/cluster.ts';

/** Sends one request per user (`u-<prefix>-<n>`) and returns user -> version. */
async function sample(
  c: Cluster,
  users: string[],
  extra: Record<string, string> = {},
): Promise<Map<string, string>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const out = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const u = users[next++];
      const v = await new Promise<string>((resolve, reject) => {
        http
          .get(
            {
              host: '127.0.0.1',
              port: c.gatewayPort,
              path: '/',
              agent,
              headers: { 'x-user-id': u, ...extra },
            },
            (res) => {
              let b = '';
              res.on('data', (x) => (b += x));
              res.on('end', () =>
                res.statusCode === 200
                  ? resolve(JSON.parse(b).version)
                  : reject(new Error(`${res.statusCode} ${b}`)),
              );
            },
          )
          .on('error', reject);
      });
      out.set(u, v);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
  return out;
}

const share = (m: Map<string, string>, v: string) => [...m.values()].filter((x) => x === v).length / m.size;
const users = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

const CANARY = `{ type: canary, canaryReplicas: 1, progressDeadline: 20s, steps: [ { setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 } ] }`;
const TRAFFIC = `{ stickyBy: "header:X-User-Id", rules: [
      { match: { header: { X-Gray-Version: beta } }, to: canary },
      { match: { cookie: { canary: always } }, to: canary },
      { match: { userIn: [alice, bob] }, to: canary },
      { match: { userAgent: "(?i)iphone|android" }, to: stable },
      { match: { header: { X-Region: eu-west } }, to: canary } ] }`;

describe('canary release end to end', { timeout: 150_000 }, () => {
  test('canary through all steps under load: sticky, monotonic split at 10% and 50%, rules, runtime changes, 0 failed', async (t) => {
    // Given v1 with a canary strategy and gray rules, under steady load from many users
    const c = useCluster(t);
    await c.up({ replicas: 2, strategy: CANARY, traffic: TRAFFIC });
    const load = c.startLoad({
      concurrency: 4,
      pauseMs: 5,
      headers: (n) => ({ 'x-user-id': `load-${n % 500}` }),
    });

    // When v2 is deployed, the rollout stops at the indefinite pause with 10% on the canary
    const d = await c.cli(['deploy', 'web', '--version', 'v2']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(
      async () => (await c.status()).step?.waitingFor === 'pause: waiting for promote',
      20_000,
      'pause at 10%',
    );
    const s10 = await c.status();
    assert.deepEqual(s10.weights, { stable: 90, canary: 10 });
    assert.equal(s10.phase, 'Paused');

    // Then the split over thousands of distinct users matches the weight, and is sticky
    const at10 = await sample(c, users(4000));
    assert.ok(Math.abs(share(at10, 'v2') - 0.1) < 0.025, `canary share at 10%: ${share(at10, 'v2')}`);
    const again = await sample(c, users(400));
    assert.equal(again.size, 400);
    for (const [u, v] of again) assert.equal(v, at10.get(u), `user ${u} changed revision`);

    // And each rule kind decides before the weight
    const stableUser = users(4000).find((u) => at10.get(u) === 'v1')!;
    const canaryUser = users(4000).find((u) => at10.get(u) === 'v2')!;
    assert.equal((await c.get('/', { 'x-user-id': stableUser, 'x-gray-version': 'beta' })).version, 'v2');
    assert.equal((await c.get('/', { 'x-user-id': stableUser, cookie: 'a=b; canary=always' })).version, 'v2');
    assert.equal((await c.get('/', { 'x-user-id': 'alice' })).version, 'v2');
    assert.equal(
      (await c.get('/', { 'x-user-id': canaryUser, 'user-agent': 'Mozilla/5.0 (iPhone; CPU)' })).version,
      'v1',
    );
    assert.equal((await c.get('/', { 'x-user-id': stableUser, 'x-region': 'eu-west' })).version, 'v2');
    assert.equal((await c.get('/', { 'x-user-id': stableUser, 'x-region': 'us-east' })).version, 'v1');

    // When promoted past the pause, 50% go to the canary, and everyone on it at 10% stays on it
    const p = await c.cli(['promote', 'web']);
    assert.equal(p.code, 0, p.stderr);
    await c.waitFor(async () => (await c.status()).weights?.canary === 50, 20_000, 'weight 50');
    const at50 = await sample(c, users(4000));
    assert.equal(at10.size, 4000);
    assert.ok(Math.abs(share(at50, 'v2') - 0.5) < 0.035, `canary share at 50%: ${share(at50, 'v2')}`);
    for (const [u, v] of at10)
      if (v === 'v2') assert.equal(at50.get(u), 'v2', `${u} left the canary as the weight grew`);

    // When an operator sets the weight and the rules at runtime, they apply without restarts
    const before = (await c.status()).instances.map((i) => i.id).sort();
    const w = await c.cli(['set-weight', 'web', '25']);
    assert.equal(w.code, 0, w.stderr);
    const at25 = await sample(c, users(4000));
    assert.ok(Math.abs(share(at25, 'v2') - 0.25) < 0.035, `canary share at 25%: ${share(at25, 'v2')}`);
    const rulesFile = `${c.dir}/rules.yaml`;
    (await import('node:fs')).writeFileSync(
      rulesFile,
      'stickyBy: "header:X-User-Id"\nrules:\n  - match: { header: { X-Beta: { prefix: "ye" } } }\n    to: canary\n',
    );
    const r = await c.cli(['rules', 'web', '--file', rulesFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /traffic \(runtime\)/);
    assert.equal((await c.get('/', { 'x-user-id': stableUser, 'x-beta': 'yes' })).version, 'v2');
    const oldRule = await c.get('/', { 'x-user-id': stableUser, 'x-gray-version': 'beta' });
    assert.equal(oldRule.version, at25.get(stableUser), 'the replaced rules no longer apply');
    const bad = await c.cli(['rules', 'web', '--file', `${c.dir}/cutover.yaml`]);
    assert.equal(bad.code, 2, 'a file that is not a traffic block is rejected');
    assert.match(bad.stderr, /traffic\.\w+/);
    assert.deepEqual((await c.status()).instances.map((i) => i.id).sort(), before, 'nothing restarted');

    // When promoted fully, the canary becomes stable; nothing failed for the users under load
    const full = await c.cli(['promote', 'web', '--full']);
    assert.equal(full.code, 0, full.stderr);
    await c.waitFor(
      async () => {
        const s = await c.status();
        return s.stable.revision === 2 && !s.rollout && allOnVersion(s, 'v2');
      },
      30_000,
      'canary promoted',
    );
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.ok(report.ok >= 10, `load actually ran (${report.ok} ok)`);
  });

  test('abort mid-canary under load: all traffic back on stable at once, 0 failed', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 2, strategy: CANARY, traffic: `{ stickyBy: "header:X-User-Id" }` });
    const load = c.startLoad({ concurrency: 4, headers: (n) => ({ 'x-user-id': `u-${n}` }) });
    await c.cli(['deploy', 'web', '--version', 'v2']);
    await c.waitFor(async () => (await c.status()).weights?.canary === 10, 20_000, 'weight 10');
    const a = await c.cli(['abort', 'web']);
    assert.equal(a.code, 0, a.stderr);
    // Then the very next requests are all on stable
    const after = await sample(c, users(300, 'post'));
    assert.equal(share(after, 'v1'), 1);
    await c.waitFor(async () => allOnVersion(await c.status(), 'v1'), 20_000, 'canary drained');
    const s = await c.status();
    assert.equal(s.phase, 'Aborted');
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join(' | '));
    // And retry starts the same revision again
    const retry = await c.cli(['retry', 'web']);
    assert.equal(retry.code, 0, retry.stderr);
    await c.waitFor(async () => (await c.status()).weights?.canary === 10, 20_000, 'retry reaches weight 10');
  });

  test('mirroring copies requests to the canary but the client only ever sees stable responses', async (t) => {
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      strategy: `{ type: canary, canaryReplicas: 1, steps: [ { mirror: { percent: 50 } }, { pause: {} } ] }`,
    });
    await c.cli(['deploy', 'web', '--version', 'v2']);
    await c.waitFor(async () => (await c.status()).phase === 'Paused', 20_000, 'mirror step applied');
    assert.deepEqual((await c.status()).mirror, { percent: 50 });
    await c.waitFor(
      async () =>
        (await c.gatewayAdmin<{ services: Array<{ traffic?: { mirror?: unknown } }> }>('/routes')).services[0]
          .traffic?.mirror !== undefined,
      5_000,
      'gateway has the mirror route',
    );
    const got = await sample(c, users(600, 'm'));
    assert.equal(share(got, 'v1'), 1, 'every client response comes from stable');
    const stats = await c.gatewayStats();
    const mirror = stats.services.web?.revisions['2']?.mirror;
    assert.ok(mirror, JSON.stringify(stats));
    assert.ok(mirror.sent > 200 && mirror.sent < 400, `mirrored ${mirror.sent} of 600`);
    assert.equal(stats.services.web?.revisions['2']?.requests ?? 0, 0, 'the canary served no client request');
  });
});
