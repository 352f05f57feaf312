/**
 * Automatic certificates end to end: the real gateway (master + 2 workers) against a real ACME CA
 * (pebble, validating HTTP-01 on the gateway's plain listener).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { freePort } from '../src/runtime/ports.ts';
import { service, startUpstream, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';
import { startPebble } from './helpers/pebble.ts';
import { httpsGet } from './helpers/tls-client.ts';
import { waitFor } from './helpers/wait.ts';

const HOST = 'api.example.test';

async function acmeGateway(t: TestContext, hosts: string[]) {
  const dir = tempDir(t);
  const port = await freePort();
  const pebble = await startPebble({ httpPort: port });
  t.after(() => pebble.stop());
  const caFile = path.join(dir, 'pebble-ca.pem');
  writeFileSync(caFile, pebble.caCertPem);
  const up = await startUpstream(t, 'web');
  const settings = settingsIn(dir, {
    listen: { host: '127.0.0.1', port },
    tls: {
      listen: { host: '127.0.0.1', port: 0 },
      certificates: [],
      acme: { directory: pebble.directoryUrl, email: 'ops@example.test', caCert: caFile },
      redirectHttp: true,
      handshakeTimeoutMs: 30_000,
      certDir: path.join(dir, 'certs'),
    },
  });
  const gw = await spawnGateway(t, settings);
  const services = hosts.map((h, i) => service(`web${i}`, [upstream(`web${i}-1`, up.port)], { host: h }));
  assert.equal((await admin(gw.admin, 'PUT', '/routes', table(1, ...services))).status, 200);
  return { gw, pebble, roots: await pebble.rootsPem() };
}

interface CertRow {
  hosts: string[];
  source: string;
  state: string;
  notAfter?: string;
  error?: string;
}

async function certs(socket: string): Promise<CertRow[]> {
  return (await admin(socket, 'GET', '/certs')).json.certificates as CertRow[];
}

/** TLS clients on new connections and on keep-alive ones until stopped; every failure is kept. */
function tlsLoad(port: number, ca: string) {
  let stopped = false;
  let ok = 0;
  const failures: string[] = [];
  const agent = new https.Agent({ keepAlive: true, ca, maxSockets: 4 });
  const one = (keepAlive: boolean) =>
    new Promise<void>((resolve) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port,
          servername: HOST,
          headers: { host: HOST },
          path: '/load',
          ...(keepAlive ? { agent } : { agent: false, ca }),
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failures.push(`status ${res.statusCode}`);
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        failures.push(err.message);
        resolve();
      });
    });
  const loops = [true, true, false, false].map(async (keepAlive) => {
    while (!stopped) await one(keepAlive);
  });
  return {
    ok: () => ok,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return { ok, failures };
    },
  };
}

test('a routed host gets an ACME certificate during its first handshake; a forced renewal under load fails nothing', async (t) => {
  const { gw, roots } = await acmeGateway(t, [HOST]);
  // Given no certificate yet, the first HTTPS request waits in its handshake for the order.
  const first = await httpsGet(gw.tlsPort, HOST, roots, '/first');
  assert.equal(first.status, 200);
  assert.match(first.certSan, /DNS:api\.example\.test/);
  const issued = (await certs(gw.admin)).find((c) => c.source === 'acme');
  assert.equal(issued?.state, 'valid');
  assert.ok(issued?.notAfter);
  // When a renewal is forced while clients keep connecting and reusing connections,
  const load = tlsLoad(gw.tlsPort, roots);
  await waitFor(() => load.ok() >= 20, 20_000, 'load before the renewal');
  const renewed = await admin(gw.admin, 'POST', `/certs/renew?host=${HOST}`);
  assert.equal(renewed.status, 200, JSON.stringify(renewed.json));
  const before = load.ok();
  await waitFor(() => load.ok() >= before + 20, 20_000, 'load after the renewal');
  const result = await load.stop();
  // Then no request and no handshake failed, and new handshakes get the new certificate.
  assert.deepEqual(result.failures, []);
  assert.ok(result.ok > 40);
  const after = await httpsGet(gw.tlsPort, HOST, roots, '/after');
  assert.notEqual(after.certSerial, first.certSerial);
});

test('a host whose order fails shows the failure and keeps the certificate it had', async (t) => {
  const { gw, pebble, roots } = await acmeGateway(t, [HOST]);
  const first = await httpsGet(gw.tlsPort, HOST, roots, '/first');
  assert.equal(first.status, 200);
  // Given validation can no longer reach the gateway (the name now points where nobody listens),
  await pebble.pointHost(HOST, '127.0.0.9');
  const renewed = await admin(gw.admin, 'POST', `/certs/renew?host=${HOST}`);
  // the forced renewal fails with the CA's reason,
  assert.equal(renewed.status, 502);
  assert.match(String(renewed.json.error), /api\.example\.test/);
  const row = (await certs(gw.admin)).find((c) => c.source === 'acme');
  assert.equal(row?.state, 'failed');
  assert.match(String(row?.error), /api\.example\.test/);
  // and the host is still served with the certificate it had.
  const still = await httpsGet(gw.tlsPort, HOST, roots, '/still');
  assert.equal(still.status, 200);
  assert.equal(still.certSerial, first.certSerial);
});

test('ACME challenges are answered on the plain listener despite redirectHttp; other paths redirect to https', async (t) => {
  const { gw, roots } = await acmeGateway(t, [HOST]);
  // Issuance itself proves the challenge path is answered (pebble validated through the plain port).
  const first = await httpsGet(gw.tlsPort, HOST, roots, '/x');
  assert.equal(first.status, 200);
  const plain = await plainGet(gw.port, '/page');
  assert.equal(plain.status, 308);
  assert.equal(plain.location, `https://${HOST}:${gw.tlsPort}/page`);
  // A token the gateway did not publish is neither answered nor redirected: it goes to the service
  // (which may manage a certificate of its own).
  const unknownToken = await plainGet(gw.port, '/.well-known/acme-challenge/nope');
  assert.equal(unknownToken.status, 200);
});

function plainGet(port: number, urlPath: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers: { host: HOST }, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, location: res.headers.location });
      })
      .on('error', reject);
  });
}
