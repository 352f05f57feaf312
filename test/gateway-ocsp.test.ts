/**
 * OCSP stapling through the real gateway (master fetches, workers staple) against a real OCSP responder
 * (`openssl ocsp` over an openssl CA database): good certificates are stapled, revoked ones are not, and a
 * responder that is down costs the staple only, never a handshake.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from './helpers/certs.ts';
import { service, startUpstream, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';
import { handshakeStaple, ocspSummary, startOcspResponder } from './helpers/ocsp.ts';
import { httpsGet } from './helpers/tls-client.ts';
import { waitFor } from './helpers/wait.ts';

/** The certificate file the gateway reads: the leaf, then its issuer (what the stapler needs). */
function withChain(leaf: TestLeaf, ca: TestCa): string {
  const file = leaf.certFile.replace(/\.crt$/, '-chain.crt');
  writeFileSync(file, leaf.certPem + ca.certPem);
  return file;
}

async function gatewayWith(t: TestContext, dir: string, ca: TestCa, leaves: [string, TestLeaf][]) {
  const up = await startUpstream(t, 'web', (_req, res) => res.end('ok'));
  const settings = settingsIn(dir, {
    tls: {
      listen: { host: '127.0.0.1', port: 0 },
      certificates: leaves.map(([host, leaf]) => ({
        hosts: [host],
        cert: withChain(leaf, ca),
        key: leaf.keyFile,
      })),
      redirectHttp: false,
      handshakeTimeoutMs: 2000,
      certDir: `${dir}/certs`,
    },
  });
  const gw = await spawnGateway(t, settings);
  const put = await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
  assert.equal(put.status, 200);
  return gw;
}

/** A port with nothing listening on it (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Handshakes until one comes with a staple (the master fetches after it starts). */
async function firstStaple(port: number, host: string, ca: TestCa): Promise<Buffer> {
  let staple: Buffer | null = null;
  await waitFor(
    async () => {
      staple = await handshakeStaple(port, host, ca.certPem);
      return staple !== null;
    },
    10_000,
    `a stapled OCSP response for ${host}`,
  );
  return staple!;
}

const serialOf = (leaf: TestLeaf) => new X509Certificate(leaf.certPem).serialNumber.toUpperCase();

test('each certificate its responder says is good gets its own response stapled, TLS 1.3 and 1.2', async (t) => {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const responder = await startOcspResponder(t, ca);
  const good = makeLeaf(ca, ['good.example.test'], { ocspUrl: responder.url });
  const other = makeLeaf(ca, ['other.example.test'], { ocspUrl: responder.url });
  await responder.markValid(good);
  await responder.markValid(other);
  const gw = await gatewayWith(t, dir, ca, [
    ['good.example.test', good],
    ['other.example.test', other],
  ]);
  const staple = await firstStaple(gw.tlsPort, 'good.example.test', ca);
  assert.deepEqual(ocspSummary(dir, staple), { status: 'good', serial: serialOf(good) });
  const second = await firstStaple(gw.tlsPort, 'other.example.test', ca);
  assert.deepEqual(ocspSummary(dir, second), { status: 'good', serial: serialOf(other) });
  // Every worker staples (the master sent it to all), whatever the TLS version.
  for (let i = 0; i < 6; i++) {
    const again = await handshakeStaple(
      gw.tlsPort,
      'good.example.test',
      ca.certPem,
      i % 2 ? 'TLSv1.2' : 'TLSv1.3',
    );
    assert.ok(again?.equals(staple), `handshake ${i} stapled the same response`);
  }
  // A client without SNI gets the default (first) certificate, and its staple.
  assert.ok(
    (await handshakeStaple(gw.tlsPort, '', ca.certPem))?.equals(staple),
    'no SNI: the default staple',
  );
  assert.match(gw.stderr(), /"msg":"ocsp staple updated"/);
  const certs = (await admin(gw.admin, 'GET', '/certs')).json.certificates as { ocspStapled?: boolean }[];
  assert.deepEqual(
    certs.map((c) => c.ocspStapled),
    [true, true],
  );
});

test('a certificate replaced on reload gets the staple of the new certificate', async (t) => {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const responder = await startOcspResponder(t, ca);
  const first = makeLeaf(ca, ['good.example.test'], { ocspUrl: responder.url, tag: 'first' });
  const second = makeLeaf(ca, ['good.example.test'], { ocspUrl: responder.url, tag: 'second' });
  await responder.markValid(first);
  await responder.markValid(second);
  const gw = await gatewayWith(t, dir, ca, [['good.example.test', first]]);
  assert.equal(
    ocspSummary(dir, await firstStaple(gw.tlsPort, 'good.example.test', ca)).serial,
    serialOf(first),
  );
  // The same files, new contents: what an operator (or certbot) does.
  writeFileSync(gw.settings.tls!.certificates[0].cert, second.certPem + ca.certPem);
  copyFileSync(second.keyFile, gw.settings.tls!.certificates[0].key);
  assert.equal((await admin(gw.admin, 'POST', '/reload')).status, 200);
  await waitFor(
    async () => {
      const staple = await handshakeStaple(gw.tlsPort, 'good.example.test', ca.certPem);
      return staple !== null && ocspSummary(dir, staple).serial === serialOf(second);
    },
    10_000,
    'the staple of the new certificate',
  );
});

test('a revoked certificate is not stapled, and the revocation is logged', async (t) => {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const responder = await startOcspResponder(t, ca);
  const leaf = makeLeaf(ca, ['revoked.example.test'], { ocspUrl: responder.url });
  await responder.markValid(leaf);
  await responder.revoke(leaf);
  const gw = await gatewayWith(t, dir, ca, [['revoked.example.test', leaf]]);
  await waitFor(
    () => gw.stderr().includes('certificate revoked according to its OCSP responder'),
    10_000,
    'the revocation in the log',
  );
  for (let i = 0; i < 4; i++) {
    assert.equal(await handshakeStaple(gw.tlsPort, 'revoked.example.test', ca.certPem), null);
  }
  const certs = (await admin(gw.admin, 'GET', '/certs')).json.certificates as { ocspStapled?: boolean }[];
  assert.deepEqual(
    certs.map((c) => c.ocspStapled),
    [false],
  );
});

test('a responder that is down means no staple, handshakes still succeed, and the error is logged', async (t) => {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const leaf = makeLeaf(ca, ['down.example.test'], { ocspUrl: `http://127.0.0.1:${await closedPort()}` });
  const gw = await gatewayWith(t, dir, ca, [['down.example.test', leaf]]);
  await waitFor(() => gw.stderr().includes('ocsp response not usable'), 10_000, 'the OCSP error in the log');
  const line = gw
    .stderr()
    .split('\n')
    .find((l) => l.includes('ocsp response not usable'))!;
  assert.match(line, /ECONNREFUSED/);
  assert.match(line, /down\.example\.test/);
  assert.equal(await handshakeStaple(gw.tlsPort, 'down.example.test', ca.certPem), null);
  const res = await httpsGet(gw.tlsPort, 'down.example.test', ca.certPem, '/');
  assert.equal(res.status, 200);
});

test('a certificate file without its issuer is served without stapling, and that is logged once', async (t) => {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const responder = await startOcspResponder(t, ca);
  const leaf = makeLeaf(ca, ['alone.example.test'], { ocspUrl: responder.url });
  await responder.markValid(leaf);
  const up = await startUpstream(t, 'web', (_req, res) => res.end('ok'));
  const settings = settingsIn(dir, {
    tls: {
      listen: { host: '127.0.0.1', port: 0 },
      certificates: [{ hosts: ['alone.example.test'], cert: leaf.certFile, key: leaf.keyFile }],
      redirectHttp: false,
      handshakeTimeoutMs: 2000,
      certDir: `${dir}/certs`,
    },
  });
  const gw = await spawnGateway(t, settings);
  await admin(gw.admin, 'PUT', '/routes', table(1, service('web', [upstream('web-1', up.port)])));
  assert.equal(await handshakeStaple(gw.tlsPort, 'alone.example.test', ca.certPem), null);
  assert.equal((await httpsGet(gw.tlsPort, 'alone.example.test', ca.certPem, '/')).status, 200);
  const reload = await admin(gw.admin, 'POST', '/reload');
  assert.equal(reload.status, 200);
  const lines = gw
    .stderr()
    .split('\n')
    .filter((l) => l.includes('no issuer certificate after the leaf'));
  assert.equal(lines.length, 1);
});
