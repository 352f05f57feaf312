import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { describedOperations } from '../src/api/openapi.ts';
import { Cluster, useCluster } from './helpers/cluster.ts';
import { prng } from './helpers/prng.ts';
import { servedRoutes } from './helpers/routes.ts';

describe('control API', { timeout: 120_000 }, () => {
  test('the OpenAPI document describes exactly the routes the server serves', async (t) => {
    const c = new Cluster();
    t.after(() => c.destroy());
    await c.writeConfig();
    const routes = servedRoutes(t, c.configFile);
    const ops = describedOperations();
    assert.ok(ops.length > 0 && routes.length > 0, `${ops.length} described, ${routes.length} served`);
    for (const op of ops) {
      assert.ok(
        routes.some(([m, re]) => m === op.method && re.test(op.path)),
        `described but not served: ${op.method} ${op.path}`,
      );
    }
    for (const [m, re] of routes) {
      assert.ok(
        ops.some((op) => op.method === m && re.test(op.path)),
        `served but not described: ${m} ${re}`,
      );
    }
  });

  test('openapi.json, the event stream, and hostile request bodies against a running controller', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    // openapi.json needs a token like everything but /healthz
    const doc = await c.api<{ openapi: string; paths: Record<string, unknown> }>('GET', '/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    assert.ok(doc.body.paths['/v1/services/{name}/deploy']);
    const anon = await c.api('GET', '/openapi.json', undefined, null);
    assert.equal(anon.status, 401);

    // The stream sends the current status, then events as they happen
    const token = c.adminToken();
    const chunks: string[] = [];
    const req = http.get({
      host: '127.0.0.1',
      port: c.controlPort,
      path: '/v1/stream?service=web',
      headers: { authorization: `Bearer ${token}` },
    });
    t.after(() => req.destroy());
    await new Promise<void>((resolve) =>
      req.on('response', (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        res.setEncoding('utf8');
        res.on('data', (d: string) => chunks.push(d));
        resolve();
      }),
    );
    await c.waitFor(async () => chunks.join('').includes('event: status'), 5_000, 'first status');
    const d = await c.cli(['deploy', 'web', '--version', 'v2']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(
      async () => /event: event\ndata: \{[^\n]*"type":"RolloutStarted"/.test(chunks.join('')),
      5_000,
      'RolloutStarted event',
    );
    await c.waitFor(
      async () => /"type":"RolloutSucceeded"/.test(chunks.join('')),
      30_000,
      'RolloutSucceeded event',
    );
    assert.match(chunks.join(''), /^id: \d+$/m);

    // Hostile bodies: random JSON-ish garbage to every mutating endpoint never crashes the
    // controller, never changes state, and always gets a JSON error with a code.
    const before = JSON.stringify((await c.api('GET', '/v1/services/web/history')).body);
    const rnd = prng(42);
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
    const endpoints: Array<[string, string]> = [
      ['POST', '/v1/services/web/deploy'],
      ['PUT', '/v1/services/web/weight'],
      ['PUT', '/v1/services/web/rules'],
      ['POST', '/v1/config'],
      ['POST', '/v1/services/web/promote'],
    ];
    // No atom is a valid version or a valid config text: every request must be refused.
    const atoms: unknown[] = [
      null,
      true,
      0,
      -1,
      1e308,
      'x y',
      'v2;rm -rf /',
      '../../etc',
      [],
      {},
      'a'.repeat(300),
      { toRevision: 'NaN' },
    ];
    const randomValue = (depth: number): unknown => {
      if (depth > 2 || rnd() < 0.5) return pick(atoms);
      if (rnd() < 0.5) return Array.from({ length: Math.floor(rnd() * 3) }, () => randomValue(depth + 1));
      const keys = [
        'version',
        'set',
        'toRevision',
        'weight',
        'traffic',
        'yaml',
        'full',
        'rules',
        'stickyBy',
        'match',
        '__proto__',
        'constructor',
      ];
      return Object.fromEntries(
        Array.from({ length: Math.floor(rnd() * 4) }, () => [pick(keys), randomValue(depth + 1)]),
      );
    };
    for (let i = 0; i < 300; i++) {
      const [method, p] = pick(endpoints);
      let body = randomValue(0);
      // A few shapes that are almost right, to reach the validators' deeper branches
      if (p.endsWith('/weight') && rnd() < 0.3) body = { weight: pick([101, -5, '50x', Number.NaN, null]) };
      if (p.endsWith('/rules') && rnd() < 0.3) {
        body = {
          traffic: {
            rules: [
              { match: { userAgent: pick(['(a+)+$', '[', '(?i)(x*)*', 5]) }, to: pick(['canary', 'x']) },
            ],
          },
        };
      }
      if (p.endsWith('/deploy') && rnd() < 0.3)
        body = {
          version: pick(['', 'a b', 'v\n2', 'x'.repeat(200)]),
          set: pick([['run.env.X'], ['nope=1'], 'x']),
        };
      const r = await c.api<{ error?: { code: string; message: string } }>(method, p, body);
      assert.ok(
        r.status >= 400 && r.status < 500,
        `${method} ${p} ${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`,
      );
      assert.ok(r.body.error?.code && r.body.error.message, JSON.stringify(r.body));
    }
    const after = JSON.stringify((await c.api('GET', '/v1/services/web/history')).body);
    assert.equal(after, before, 'no hostile body changed any state');
    assert.equal((await c.api('GET', '/healthz')).status, 200);
  });
});
