import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Route } from '../src/api/routes.ts';
import { SqliteStore } from '../src/store/store.ts';
import { API_SERVICE, Cluster } from './helpers/cluster.ts';
import { servedRoutes } from './helpers/routes.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** One control API request from a chosen loopback source address (each is its own rate-limit bucket). */
function request(
  port: number,
  method: string,
  p: string,
  opts: { token?: string; body?: unknown; from?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = payload ? { 'content-type': 'application/json' } : {};
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    const req = http.request(
      { host: '127.0.0.1', port, method, path: p, headers, agent: false, localAddress: opts.from },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: JSON.parse(text) as Reply['body'],
            });
          } catch (err) {
            reject(
              new Error(
                `${method} ${p}: ${res.statusCode} ${text.slice(0, 200)} (${(err as Error).message})`,
              ),
            );
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Concrete paths for a route pattern: `(?<x>[^/]+)` becomes a sample value, `(?<op>a|b)` each option. */
function samplePaths(re: RegExp): string[] {
  let paths = [re.source.replace(/^\^/, '').replace(/\$$/, '')];
  const group = /\(\?<(\w+)>([^()]*)\)/;
  for (;;) {
    const m = group.exec(paths[0]);
    if (!m) break;
    const alts = /^[\w|.-]+$/.test(m[2]) ? m[2].split('|') : [m[1] === 'name' ? 'web' : `sample-${m[1]}`];
    paths = paths.flatMap((p) => alts.map((a) => p.replace(m[0], a)));
  }
  return paths.map((p) => p.replace(/\\\//g, '/').replace(/\\\./g, '.'));
}

let nextAddr = 10;
/** A loopback source address not used yet by this test file. */
const freshAddr = () => `127.0.0.${nextAddr++}`;

describe('authentication and roles', { timeout: 120_000 }, () => {
  const c = new Cluster();
  let port = 0;
  const tokens: Record<string, string> = {};

  const create = async (name: string, role: string, services: string[] = []): Promise<string> => {
    const r = await request(port, 'POST', '/v1/tokens', {
      token: c.adminToken(),
      body: { name, role, services },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(String(r.body.token), /^cut_[A-Za-z0-9_-]{43}$/);
    return String(r.body.token);
  };

  before(async () => {
    await c.up({ replicas: 1, extraService: API_SERVICE });
    port = c.controlPort;
    tokens.viewer = await create('viewer1', 'viewer');
    tokens.webDeployer = await create('deploy-web', 'deployer', ['web']);
    tokens.apiDeployer = await create('deploy-api', 'deployer', ['api']);
    tokens.anyDeployer = await create('deploy-any', 'deployer');
  });
  after(() => c.destroy());

  test('the admin token file is created 0600 and the stored token is only a hash', async () => {
    const file = path.join(c.dir, 'data', 'admin.token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const admin = c.adminToken()!;
    assert.match(admin, /^cut_/);
    const db = new SqliteStore(path.join(c.dir, 'data'));
    try {
      const rows = db.db.prepare('SELECT name, hash FROM tokens').all() as Array<{
        name: string;
        hash: string;
      }>;
      assert.ok(rows.some((r) => r.name === 'admin'));
      for (const r of rows) {
        assert.match(r.hash, /^[0-9a-f]{64}$/);
        assert.ok(!Object.values(tokens).includes(r.hash) && r.hash !== admin);
      }
    } finally {
      db.close();
    }
  });

  test('every endpoint but GET /healthz answers 401 without a token (and with a bad one)', async (t) => {
    // The routes table the server dispatches, built on a controller that is never started.
    const routes: Route[] = servedRoutes(t, c.configFile);
    const checked: string[] = [];
    for (const [method, re, , access] of routes) {
      for (const p of samplePaths(re)) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        if (access?.perm === 'public') {
          const r = await request(port, method, p, { from: freshAddr() });
          // The dashboard's sign-in is public by nature: it is where a token is presented (in the body).
          const signIn = method === 'POST' && p === '/v1/session';
          assert.equal(r.status, signIn ? 400 : 200, `${method} ${p}`);
          continue;
        }
        const from = freshAddr();
        const none = await request(port, method, p, { body, from });
        assert.equal(none.status, 401, `${method} ${p} without a token: ${JSON.stringify(none.body)}`);
        assert.equal(none.body.error?.code, 'unauthenticated');
        assert.match(String(none.headers['www-authenticate']), /^Bearer/);
        const bad = await request(port, method, p, { body, from, token: 'cut_not-a-real-token' });
        assert.equal(bad.status, 401, `${method} ${p} with a bad token`);
        checked.push(`${method} ${p}`);
      }
    }
    for (const must of [
      'GET /v1/services',
      'POST /v1/services/web/deploy',
      'POST /v1/services/web/promote',
      'PUT /v1/services/web/weight',
      'DELETE /v1/services/web/rules',
      'PUT /v1/services/web/limits',
      'DELETE /v1/services/web/limits',
      'GET /v1/services/web/logs',
      'POST /v1/tokens',
      'DELETE /v1/tokens/sample-token',
      'GET /v1/audit/verify',
    ]) {
      assert.ok(checked.includes(must), `${must} was enumerated (${checked.join(', ')})`);
    }
    // Unknown paths give nothing away without a token either.
    assert.equal((await request(port, 'GET', '/v1/nope', { from: freshAddr() })).status, 401);
    assert.equal((await request(port, 'GET', '/v1/nope', { token: c.adminToken() })).status, 404);
  });

  test('viewer: reads everything, may not operate or administer', async () => {
    const v = tokens.viewer;
    for (const p of [
      '/v1/services',
      '/v1/services/web',
      '/v1/services/web/history',
      '/v1/services/web/limits',
      '/v1/events',
    ]) {
      assert.equal((await request(port, 'GET', p, { token: v })).status, 200, p);
    }
    const refused: Array<[string, string, unknown]> = [
      ['POST', '/v1/services/web/deploy', { version: 'v2' }],
      ['POST', '/v1/services/web/pause', {}],
      ['PUT', '/v1/services/web/weight', { weight: 10 }],
      ['DELETE', '/v1/services/web/rules', undefined],
      ['PUT', '/v1/services/web/limits', {}],
      ['DELETE', '/v1/services/web/limits', undefined],
      ['POST', '/v1/tokens', { name: 'x', role: 'admin' }],
      ['GET', '/v1/tokens', undefined],
      ['GET', '/v1/audit', undefined],
    ];
    for (const [m, p, body] of refused) {
      const r = await request(port, m, p, { token: v, body });
      assert.equal(r.status, 403, `${m} ${p}`);
      assert.equal(r.body.error?.code, 'forbidden');
    }
  });

  test('deployer: operates on its services only, never on tokens or audit', async () => {
    const wrongService = await request(port, 'POST', '/v1/services/web/deploy', {
      token: tokens.apiDeployer,
      body: { version: 'v2' },
    });
    assert.equal(wrongService.status, 403);
    assert.match(wrongService.body.error?.message ?? '', /may only operate on "api", not "web"/);
    for (const [m, p] of [
      ['POST', '/v1/tokens'],
      ['GET', '/v1/tokens'],
      ['DELETE', '/v1/tokens/viewer1'],
      ['GET', '/v1/audit'],
      ['GET', '/v1/audit/verify'],
    ]) {
      const r = await request(port, m, p, {
        token: tokens.webDeployer,
        body: m === 'POST' ? { name: 'mine', role: 'admin' } : undefined,
      });
      assert.equal(r.status, 403, `${m} ${p}`);
    }
    const ok = await request(port, 'POST', '/v1/services/api/deploy', {
      token: tokens.apiDeployer,
      body: { version: 'v2' },
    });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const web = await request(port, 'POST', '/v1/services/web/deploy', {
      token: tokens.webDeployer,
      body: { version: 'v2' },
    });
    assert.equal(web.status, 202, JSON.stringify(web.body));
    // A deployer without --service may operate on every service (a 409 is the controller's answer).
    const any = await request(port, 'POST', '/v1/services/api/retry', {
      token: tokens.anyDeployer,
      body: {},
    });
    assert.notEqual(any.status, 403);
    assert.notEqual(any.status, 401);
    // Reads are open to deployers.
    assert.equal((await request(port, 'GET', '/v1/services/web', { token: tokens.apiDeployer })).status, 200);
    // Admin can do everything.
    const a = await request(port, 'GET', '/v1/tokens', { token: c.adminToken() });
    assert.equal(a.status, 200);
    const names = (a.body.tokens as Array<{ name: string }>).map((x) => x.name);
    assert.deepEqual(names.sort(), ['admin', 'deploy-any', 'deploy-api', 'deploy-web', 'viewer1']);
    assert.ok(!JSON.stringify(a.body).includes('cut_'), 'no secret in the token list');
  });

  test('token creation is validated', async () => {
    const admin = c.adminToken();
    const bad: Array<[unknown, number, RegExp]> = [
      [{ name: 'x', role: 'root' }, 400, /role: must be one of viewer, deployer, admin/],
      [{ name: 'has space', role: 'viewer' }, 400, /name:/],
      [{ name: 'x', role: 'deployer', services: ['nope'] }, 400, /unknown service "nope"/],
      [{ name: 'x', role: 'viewer', services: ['web'] }, 400, /only deployer tokens/],
      [{ name: 'viewer1', role: 'viewer' }, 409, /already exists/],
    ];
    for (const [body, status, msg] of bad) {
      const r = await request(port, 'POST', '/v1/tokens', { token: admin, body });
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(r.body.error?.message ?? '', msg);
    }
    const self = await request(port, 'DELETE', '/v1/tokens/admin', { token: admin });
    assert.equal(self.status, 409);
    assert.equal(self.body.error?.code, 'protected_token');
  });

  test('failed authentications are rate limited per source address; valid tokens never are', async () => {
    const from = freshAddr();
    for (let i = 0; i < 10; i++) {
      const r = await request(port, 'GET', '/v1/services', { from, token: `cut_wrong${i}` });
      assert.equal(r.status, 401, `attempt ${i + 1}`);
    }
    const limited = await request(port, 'GET', '/v1/services', { from, token: 'cut_wrong' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error?.code, 'rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal((await request(port, 'POST', '/v1/services/web/pause', { from, body: {} })).status, 429);
    // A valid token from the same address still works.
    for (let i = 0; i < 3; i++) {
      assert.equal((await request(port, 'GET', '/v1/services', { from, token: tokens.viewer })).status, 200);
    }
    // Other addresses are not affected.
    assert.equal(
      (await request(port, 'GET', '/v1/services', { from: freshAddr(), token: 'cut_x' })).status,
      401,
    );
  });
});
