/**
 * The gateway as the HTTPS front door (real master and workers, real openssl certificates): HTTP/1.1 and
 * HTTP/2 over TLS on the same port, SNI selection, HSTS, redirect from http, plain HTTP on the TLS port.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { test } from 'node:test';
import { makeCa, makeLeaf } from './helpers/certs.ts';
import { service, startUpstream, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';
import { h2Get, httpsGet } from './helpers/tls-client.ts';

async function tlsGateway(t: import('node:test').TestContext, extra: Record<string, unknown> = {}) {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const api = makeLeaf(ca, ['api.example.test']);
  const wild = makeLeaf(ca, ['*.apps.example.test']);
  const fallback = makeLeaf(ca, ['default.example.test']);
  const up = await startUpstream(t, 'web', (req, res) => {
    res.setHeader('x-seen-proto', String(req.headers['x-forwarded-proto']));
    res.setHeader('x-seen-host', String(req.headers.host));
    res.end(`ok ${req.url}`);
  });
  const settings = settingsIn(dir, {
    tls: {
      listen: { host: '127.0.0.1', port: 0 },
      certificates: [
        { hosts: ['default.example.test'], cert: fallback.certFile, key: fallback.keyFile },
        { hosts: ['api.example.test'], cert: api.certFile, key: api.keyFile },
        { hosts: ['*.apps.example.test'], cert: wild.certFile, key: wild.keyFile },
      ],
      redirectHttp: false,
      handshakeTimeoutMs: 10_000,
      certDir: `${dir}/certs`,
      ...extra,
    },
  });
  const gw = await spawnGateway(t, settings);
  const put = await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
  assert.equal(put.status, 200);
  return { gw, ca, up, dir };
}

test('HTTP/1.1 and HTTP/2 over TLS are served on one port, chosen by ALPN', async (t) => {
  const { gw, ca } = await tlsGateway(t);
  const h1 = await httpsGet(gw.tlsPort, 'api.example.test', ca.certPem, '/one');
  assert.equal(h1.status, 200);
  assert.equal(h1.body, 'ok /one');
  assert.equal(h1.alpn, 'http/1.1');
  assert.equal(h1.headers['x-seen-proto'], 'https');
  const h2 = await h2Get(gw.tlsPort, 'api.example.test', ca.certPem, '/two');
  assert.equal(h2.status, 200);
  assert.equal(h2.body, 'ok /two');
  assert.equal(h2.alpn, 'h2');
  assert.equal(h2.headers['x-seen-proto'], 'https');
  // :authority becomes Host upstream.
  assert.equal(h2.headers['x-seen-host'], `api.example.test:${gw.tlsPort}`);
});

test('SNI picks the exact name, then a wildcard, then the default certificate', async (t) => {
  const { gw, ca } = await tlsGateway(t);
  assert.equal((await httpsGet(gw.tlsPort, 'api.example.test', ca.certPem)).certSubject, 'api.example.test');
  const wild = await httpsGet(gw.tlsPort, 'shop.apps.example.test', ca.certPem);
  assert.equal(wild.certSan, 'DNS:*.apps.example.test');
  const other = await h2Get(gw.tlsPort, 'default.example.test', ca.certPem);
  assert.equal(other.certSubject, 'default.example.test');
});

test('plain HTTP sent to the TLS port gets a clear 400, and the port keeps serving TLS', async (t) => {
  const { gw, ca } = await tlsGateway(t);
  const answer = await new Promise<string>((resolve, reject) => {
    const s = net.connect(gw.tlsPort, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /this port speaks HTTPS/);
  assert.equal((await httpsGet(gw.tlsPort, 'api.example.test', ca.certPem)).status, 200);
});

test('HSTS is sent on HTTPS responses only, and redirectHttp answers plain HTTP with 308', async (t) => {
  const { gw, ca } = await tlsGateway(t, { hstsSeconds: 15_552_000, redirectHttp: true });
  const secure = await httpsGet(gw.tlsPort, 'api.example.test', ca.certPem, '/a');
  assert.equal(secure.headers['strict-transport-security'], 'max-age=15552000');
  const plain = await new Promise<string>((resolve, reject) => {
    const s = net.connect(gw.port, '127.0.0.1', () =>
      s.write('GET /path?q=1 HTTP/1.1\r\nHost: api.example.test:8080\r\nConnection: close\r\n\r\n'),
    );
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
  assert.match(plain, /^HTTP\/1\.1 308 /);
  assert.match(
    plain,
    new RegExp(`location: https://api\\.example\\.test:${gw.tlsPort}/path\\?q=1\\r\\n`, 'i'),
  );
  assert.doesNotMatch(plain, /strict-transport-security/i);
});

test('the gateway counts TLS handshakes, plain HTTP on the TLS port and HTTP/2 sessions', async (t) => {
  const { gw, ca } = await tlsGateway(t);
  await httpsGet(gw.tlsPort, 'api.example.test', ca.certPem);
  await h2Get(gw.tlsPort, 'api.example.test', ca.certPem);
  await new Promise<void>((resolve) => {
    const s = net.connect(gw.tlsPort, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('close', () => resolve());
    s.on('error', () => {});
    s.resume();
  });
  const stats = (await admin(gw.admin, 'GET', '/stats')).json as {
    listeners?: { tlsHandshakes: number; plainHttpOnTls: number; h2SessionsOpened: number };
  };
  assert.ok(stats.listeners);
  assert.equal(stats.listeners.tlsHandshakes, 2);
  assert.equal(stats.listeners.plainHttpOnTls, 1);
  assert.equal(stats.listeners.h2SessionsOpened, 1);
});

test('a client that sends no server name (an IP address) gets the default certificate', async (t) => {
  const { gw, ca } = await tlsGateway(t);
  const reply = await new Promise<{ subject: string; status: number }>((resolve, reject) => {
    // No servername: Node sends no SNI for an IP address.
    const req = https.request(
      {
        host: '127.0.0.1',
        port: gw.tlsPort,
        path: '/',
        ca: ca.certPem,
        agent: false,
        checkServerIdentity: () => undefined,
      },
      (res) => {
        const subject = String(
          (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '',
        );
        res.resume();
        res.on('end', () => resolve({ subject, status: res.statusCode! }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(reply.subject, 'default.example.test');
  assert.equal(reply.status, 200);
});
