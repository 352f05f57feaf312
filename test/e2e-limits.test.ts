import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { processAlive } from '../src/runtime/process-group.ts';
import { type Cluster, markedPids, useCluster } from './helpers/cluster.ts';

/** The rate the test sets: 5 tokens per second, 5 saved, one bucket per client address. */
const RATE = { requests: 5, perMs: 1000, burst: 5 };
const BURST = 30;

interface Burst {
  ok: number;
  limited: number;
  other: string[];
  /** Retry-After of each 429 (seconds). */
  retryAfter: string[];
  elapsedMs: number;
}

/** `n` sequential GETs through the gateway, each on its own connection. */
async function burst(c: Cluster, n = BURST): Promise<Burst> {
  const out: Burst = { ok: 0, limited: 0, other: [], retryAfter: [], elapsedMs: 0 };
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const { status, retryAfter } = await new Promise<{ status: number; retryAfter?: string }>(
      (resolve, reject) => {
        http
          .get({ host: c.bindHost, port: c.gatewayPort, path: '/', agent: false }, (res) => {
            res.resume();
            res.on('end', () => {
              const ra = res.headers['retry-after'];
              resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra });
            });
          })
          .on('error', reject);
      },
    );
    if (status === 200) out.ok++;
    else if (status === 429) {
      out.limited++;
      out.retryAfter.push(retryAfter ?? '(none)');
    } else out.other.push(String(status));
  }
  out.elapsedMs = performance.now() - started;
  return out;
}

/**
 * Limited by the rate: some refused, each refusal with a Retry-After in whole seconds, and no more
 * served than the bucket allows over the time the burst took (burst + requests * T / per).
 */
function assertLimited(t: TestContext, b: Burst, what: string): void {
  t.diagnostic(`${what}: ${b.ok} served, ${b.limited} limited in ${b.elapsedMs.toFixed(0)} ms`);
  assert.deepEqual(b.other, [], `${what}: only 200 and 429`);
  assert.ok(b.limited > 0, `${what}: some requests refused (${JSON.stringify(b)})`);
  for (const ra of b.retryAfter) assert.match(ra, /^[1-9]\d*$/, `${what}: Retry-After in seconds`);
  const allowed = RATE.burst + Math.ceil((RATE.requests * b.elapsedMs) / RATE.perMs);
  assert.ok(b.ok <= allowed, `${what}: ${b.ok} served, at most ${allowed} allowed in ${b.elapsedMs}ms`);
}

interface LimitsLike {
  service: string;
  source: string;
  summary: string;
  policy: { loadBalancer: { type: string }; limits?: { rate?: Record<string, unknown> } };
}
interface RoutesLike {
  version: number;
  services: Array<{ name: string; balance: string; policy?: { rate?: unknown } }>;
}

const webRoute = async (c: Cluster) =>
  (await c.gatewayAdmin<RoutesLike>('/routes')).services.find((s) => s.name === 'web');

describe('runtime traffic policy end to end (cutover limits)', { timeout: 120_000 }, () => {
  test('limits --file rate-limits at once, a bad file changes nothing, the override outlives a controller restart, --reset lifts it', async (t) => {
    // Given a service without limits (the controller may exit alone: --keep-running)
    const c = useCluster(t);
    await c.up({ replicas: 2, upArgs: ['--keep-running'] });
    const shown = await c.cli(['limits', 'web', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), {
      service: 'web',
      source: 'config',
      summary: 'roundRobin, no limits',
      policy: { loadBalancer: { type: 'roundRobin' } },
    });
    const free = await burst(c);
    assert.deepEqual([free.ok, free.limited, free.other], [BURST, 0, []], 'no limits: every request served');

    // When `cutover limits web --file` sets a low rate
    const good = path.join(c.dir, 'limits.yaml');
    writeFileSync(good, 'limits:\n  rate: { requests: 5, per: 1s, burst: 5, key: ip }\n');
    const set = await c.cli(['limits', 'web', '--file', good]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^traffic policy of web \(runtime\): rate 5\/1s burst 5 by ip$/m);
    assert.match(set.stdout, /limits\.rate\s+5 per 1s, burst 5, by ip/);
    // Then the gateway has it when the command returns, and a burst sees 429s with Retry-After
    assert.deepEqual((await webRoute(c))?.policy, {
      rate: { requests: 5, perMs: 1000, burst: 5, key: { source: 'ip' } },
    });
    assertLimited(t, await burst(c), 'after limits --file');
    const status = await c.cli(['status', 'web']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^ {2}policy \(runtime\): rate 5\/1s burst 5 by ip$/m);
    const runtime = (await c.api<LimitsLike>('GET', '/v1/services/web/limits')).body;
    assert.equal(runtime.source, 'runtime');

    // When a bad file is given, the command fails naming the key, and nothing changes
    const bad = path.join(c.dir, 'bad.yaml');
    writeFileSync(bad, 'limits:\n  rate: { requests: -5, per: 1s }\n');
    const refused = await c.cli(['limits', 'web', '--file', bad]);
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(refused.stderr, /limits\.rate\.requests: /);
    const both = await c.cli(['limits', 'web', '--file', good, '--reset']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--file and --reset exclude each other/);
    assert.deepEqual((await c.api<LimitsLike>('GET', '/v1/services/web/limits')).body, runtime);
    assertLimited(t, await burst(c), 'after the refused file');
    const unknown = await c.api<{ error: { code: string } }>('PUT', '/v1/services/nope/limits', {});
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'unknown_service']);

    // Events and audit record the change and the refusal
    const events = JSON.parse((await c.cli(['events', 'web', '--json'])).stdout) as {
      events: Array<{ type: string; message: string }>;
    };
    assert.deepEqual(
      events.events.filter((e) => e.type === 'PolicyChanged').map((e) => e.message),
      ['traffic policy replaced at runtime: rate 5/1s burst 5 by ip'],
    );
    const audit = JSON.parse((await c.cli(['audit', '--service', 'web', '--json'])).stdout) as {
      entries: Array<{ action: string; status: number }>;
    };
    assert.deepEqual(
      audit.entries.filter((e) => e.action.startsWith('limits.')).map((e) => `${e.action} ${e.status}`),
      ['limits.set 200', 'limits.set 400'],
    );

    // When the controller restarts (gateway and instances keep running), the override is still in effect
    const before = (await c.gatewayAdmin<RoutesLike>('/routes')).version;
    assert.equal(await c.stop(), 0);
    await c.restart();
    await c.waitInstancesReady(2);
    assert.deepEqual((await c.api<LimitsLike>('GET', '/v1/services/web/limits')).body, runtime);
    const after = await c.gatewayAdmin<RoutesLike>('/routes');
    assert.ok(after.version > before, 'the new controller pushed its own table');
    assert.deepEqual(
      after.services.find((s) => s.name === 'web')?.policy,
      { rate: { requests: 5, perMs: 1000, burst: 5, key: { source: 'ip' } } },
      'built from the stored override',
    );
    assertLimited(t, await burst(c), 'after a controller restart');

    // When reset, the config's policy (none) is back: no 429s
    const reset = await c.cli(['limits', 'web', '--reset']);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /^traffic policy of web \(config\): roundRobin, no limits$/m);
    assert.equal(Object.hasOwn((await webRoute(c)) ?? {}, 'policy'), false);
    const lifted = await burst(c);
    assert.deepEqual([lifted.ok, lifted.limited, lifted.other], [BURST, 0, []], 'after --reset');
    assert.doesNotMatch((await c.cli(['status', 'web'])).stdout, /policy/);

    // And every process is gone once cutover up stops
    assert.equal(await c.stop(), 0);
    await c.waitFor(async () => markedPids(c.id).length === 0, 10_000, 'no process left');
  });

  test('a change the gateway cannot take yet is saved and answered 202 (routesPending), and the hung master is replaced by one that routes by it', async (t) => {
    // Given a running service whose gateway master stops answering (frozen: its workers serve on)
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    const { pid: master, workerPids } = await c.gatewayAdmin<{ pid: number; workerPids: number[] }>(
      '/healthz',
    );
    assert.ok(workerPids.length > 0, 'the master has workers');
    process.kill(master, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(master, 'SIGCONT');
      } catch {}
    });

    // When `cutover limits web --file` sets a rate
    const file = path.join(c.dir, 'limits.yaml');
    writeFileSync(file, 'limits:\n  rate: { requests: 5, per: 1s, burst: 5, key: ip }\n');
    const set = await c.cli(['limits', 'web', '--file', file]);

    // Then the command succeeds, shows the saved policy and warns that the gateway has not taken it
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^traffic policy of web \(runtime\): rate 5\/1s burst 5 by ip$/m);
    assert.match(
      set.stderr,
      /^warning: saved, but the gateway did not take the new routes yet \(.+\); the controller pushes them again on its next tick$/m,
    );
    const audit = JSON.parse((await c.cli(['audit', '--service', 'web', '--json'])).stdout) as {
      entries: Array<{ action: string; status: number }>;
    };
    assert.deepEqual(
      audit.entries.filter((e) => e.action.startsWith('limits.')).map((e) => `${e.action} ${e.status}`),
      ['limits.set 202'],
    );
    // and the controller replaces the master that stopped answering; the new one routes by the saved policy
    await c.waitFor(
      async () => (await webRoute(c))?.policy?.rate !== undefined,
      30_000,
      'the saved policy reaches the gateway',
    );
    assert.notEqual((await c.gatewayAdmin<{ pid: number }>('/healthz')).pid, master, 'a new master');
    // (the frozen master's workers serve on with the old routes until the new master's serve, then leave)
    await c.waitFor(async () => workerPids.every((p) => !processAlive(p)), 40_000, 'its workers drained');
    assertLimited(t, await burst(c), 'after the gateway came back');
    // A change the gateway takes at once is answered 200 without the field
    const reset = await c.api<Record<string, unknown>>('DELETE', '/v1/services/web/limits');
    assert.equal(reset.status, 200);
    assert.equal(Object.hasOwn(reset.body, 'routesPending'), false);
  });
});
