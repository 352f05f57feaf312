/**
 * OCSP stapling through the real gateway (master fetches, workers staple) against a real OCSP responder
 * (`openssl ocsp` over an openssl CA database): good certificates are stapled, revoked ones are not, and a
 * responder that is down costs the staple only, never a handshake.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from './helpers/certs.ts';
import { service, startUpstream, table, upstream } from './helpers/gateway-helpers.ts';
import { admin, settingsIn, spawnGateway, tempDir } from './helpers/gateway-process.ts';
import { handshakeStaple, ocspStatusText, startOcspResponder } from './helpers/ocsp.ts';
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

test('a certificate its responder says is good gets the response stapled to handshakes that ask', async (t) => {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const responder = await startOcspResponder(t, ca);
  const leaf = makeLeaf(ca, ['good.example.test'], { ocspUrl: responder.url });
  await responder.markValid(leaf);
  const gw = await gatewayWith(t, dir, ca, [['good.example.test', leaf]]);
  let staple: Buffer | null = null;
  // The master fetches after it starts: the first handshakes may come before the staple.
  await waitFor(
    async () => {
      staple = await handshakeStaple(gw.tlsPort, 'good.example.test', ca.certPem);
      return staple !== null;
    },
    10_000,
    'a stapled OCSP response',
  );
  assert.equal(ocspStatusText(dir, staple!), 'good');
  // Every worker staples (the master sent it to all): a run of handshakes all get it.
  for (let i = 0; i < 6; i++) {
    const again = await handshakeStaple(gw.tlsPort, 'good.example.test', ca.certPem);
    assert.ok(again?.equals(staple!), `handshake ${i} stapled the same response`);
  }
  assert.match(gw.stderr(), /"msg":"ocsp staple updated"/);
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
