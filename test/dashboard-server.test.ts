import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Cluster, useCluster } from './helpers/cluster.ts';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request to the control API with exactly these headers (no token unless given). */
function call(
  c: Cluster,
  method: string,
  p: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = c.tlsCa ? https.request : http.request;
    const req = request(
      { host: '127.0.0.1', port: c.controlPort, method, path: p, headers, agent: false, ca: c.tlsCa },
      (res) => {
        let text = '';
        res.on('data', (x) => (text += x));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        // An event stream never ends by itself: its first bytes are enough here.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.on('data', () => {
            if (text.includes('event: event')) {
              req.destroy();
              resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
            }
          });
        }
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function signIn(c: Cluster, origin?: string) {
  return call(c, 'POST', '/v1/session', origin ? { origin } : {}, { token: c.adminToken() });
}

describe('dashboard server side', { timeout: 120_000 }, () => {
  test('control.dashboard: false serves no page and refuses sessions; bearer tokens work as before', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 1, controlYaml: '  dashboard: false\n' });
    assert.equal((await call(c, 'GET', '/')).status, 401, 'an unknown path of the API');
    assert.equal((await call(c, 'GET', '/', { authorization: `Bearer ${c.adminToken()}` })).status, 404);
    const s = await signIn(c);
    assert.equal(s.status, 404);
    assert.equal(JSON.parse(s.text).error.code, 'dashboard_disabled');
    assert.equal((await c.api('GET', '/v1/services')).status, 200);
    const cli = await c.cli(['dashboard', '-c', c.configFile]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /control\.dashboard: false/);
  });

  test('HTTPS control listener: a Secure session cookie; CSRF token and origin required; the stream resumes after an id', async (t) => {
    const c = useCluster(t);
    const cert = path.join(c.dir, 'control.crt');
    const key = path.join(c.dir, 'control.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    await c.up({ replicas: 1, controlTls: { cert, key } });
    const origin = `https://127.0.0.1:${c.controlPort}`;

    // The page itself: strict headers on it and on API answers
    const page = await call(c, 'GET', '/', { 'accept-encoding': 'gzip' });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-encoding'], 'gzip');
    for (const h of [page.headers, (await call(c, 'GET', '/healthz')).headers]) {
      assert.match(String(h['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
      assert.equal(h['x-content-type-options'], 'nosniff');
    }
    const cli = await c.cli(['dashboard', '-c', c.configFile]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), `${origin}/`);

    // Sign-in: refused from another origin, else a Secure HttpOnly SameSite=Strict cookie and a CSRF token
    assert.equal((await signIn(c, 'https://evil.test')).status, 403);
    const bad = await call(c, 'POST', '/v1/session', {}, { token: 'cut_nope' });
    assert.equal(bad.status, 401);
    const s = await signIn(c, origin);
    assert.equal(s.status, 200, s.text);
    const setCookie = String(s.headers['set-cookie']);
    assert.match(
      setCookie,
      /^cutover_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/,
    );
    const { csrf, role } = JSON.parse(s.text) as { csrf: string; role: string };
    assert.equal(role, 'admin');
    const cookie = setCookie.split(';')[0];
    assert.equal((await call(c, 'GET', '/v1/services', { cookie })).status, 200);
    const who = JSON.parse((await call(c, 'GET', '/v1/session', { cookie })).text);
    assert.deepEqual(
      { signedIn: who.signedIn, name: who.name, csrf: who.csrf },
      { signedIn: true, name: 'admin', csrf },
    );

    // Unsafe methods under the cookie: the CSRF header and a same origin, or 403 before anything runs
    const pause = (headers: Record<string, string>) =>
      call(c, 'POST', '/v1/services/web/pause', { cookie, ...headers });
    const refused = [
      await pause({}),
      await pause({ 'x-csrf-token': 'wrong' }),
      await pause({ 'x-csrf-token': csrf, origin: 'https://evil.test' }),
      await pause({ 'x-csrf-token': csrf, 'sec-fetch-site': 'same-site' }),
    ];
    assert.deepEqual(
      refused.map((r) => [r.status, JSON.parse(r.text).error.code]),
      Array(4).fill([403, 'csrf']),
    );
    const passed = await pause({ 'x-csrf-token': csrf, origin, 'sec-fetch-site': 'same-origin' });
    assert.equal(passed.status, 409, 'past the guard: refused by the service state (no rollout to pause)');

    // The stream resumes after ?lastEventId (a page that closed its stream while hidden)
    const events = (
      await c.api<{ events: Array<{ id: number }> }>('GET', '/v1/events?service=web&limit=1000')
    ).body.events;
    assert.ok(events.length >= 1, `${events.length} events`);
    const oldest = Math.min(...events.map((e) => e.id));
    const stream = await call(c, 'GET', `/v1/stream?service=web&lastEventId=${oldest - 1}`, { cookie });
    assert.equal(stream.status, 200);
    const first = /^id: (\d+)$/m.exec(stream.text);
    assert.equal(Number(first?.[1]), oldest, 'the backlog starts right after the given id');

    // Sign-out ends the session
    const out = await call(c, 'DELETE', '/v1/session', { cookie, 'x-csrf-token': csrf, origin });
    assert.equal(out.status, 200, out.text);
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
    assert.equal((await call(c, 'GET', '/v1/services', { cookie })).status, 401);
  });
});
