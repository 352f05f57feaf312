/**
 * The ACME manager against a real CA: pebble, with a node:http challenge responder on the port
 * pebble validates HTTP-01 on.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { silentLogger } from '../src/log/logger.ts';
import {
  AcmeManager,
  type AcmeManagerOptions,
  type ChallengeResponder,
  type IssuedCertificate,
} from '../src/tls/acme.ts';
import { CertStore } from '../src/tls/cert-store.ts';
import { type Pebble, startPebble } from './helpers/pebble.ts';
import { waitFor } from './helpers/wait.ts';

const ISSUE_TIMEOUT_MS = 60_000;
const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** The plain listener a gateway worker would be: answers published tokens, except for broken hosts. */
class TestResponder implements ChallengeResponder {
  readonly tokens = new Map<string, string>();
  /** Hosts whose challenge requests get a 404 (a misrouted name). */
  readonly broken = new Set<string>();
  /** Challenge requests received, by Host header. */
  readonly hits = new Map<string, number>();
  /** publish() calls, in order, with the time they happened. */
  readonly published: Array<{ token: string; at: number }> = [];
  readonly server = http.createServer((req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    this.hits.set(host, (this.hits.get(host) ?? 0) + 1);
    const url = req.url ?? '';
    const keyAuthorization = url.startsWith(CHALLENGE_PREFIX)
      ? this.tokens.get(url.slice(CHALLENGE_PREFIX.length))
      : undefined;
    if (keyAuthorization === undefined || this.broken.has(host)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such token\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(keyAuthorization);
  });

  async publish(token: string, keyAuthorization: string): Promise<void> {
    this.published.push({ token, at: Date.now() });
    this.tokens.set(token, keyAuthorization);
  }

  async withdraw(token: string): Promise<void> {
    this.tokens.delete(token);
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port)),
    );
  }
}

/** Completes a TLS handshake against `issued` while trusting only `roots`; returns the peer's serial. */
async function handshake(issued: IssuedCertificate, roots: string, servername: string): Promise<string> {
  const server = tls.createServer({ cert: issued.certPem, key: issued.keyPem }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: roots }, () => {
        const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
        socket.destroy();
        resolve(serial.toUpperCase());
      });
      socket.once('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('ACME manager against pebble', { timeout: 240_000 }, () => {
  let pebble: Pebble;
  let responder: TestResponder;
  let dir: string;
  const managers: AcmeManager[] = [];

  const manager = (overrides: Partial<AcmeManagerOptions> = {}): AcmeManager => {
    const m = new AcmeManager({
      directory: pebble.directoryUrl,
      email: 'ops@example.test',
      caCert: pebble.caCertPem,
      store: new CertStore(path.join(dir, 'certs')),
      responder,
      logger: silentLogger,
      poll: { minMs: 50, maxMs: 500, attempts: 40 },
      ...overrides,
    });
    managers.push(m);
    return m;
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cutover-acme-'));
    responder = new TestResponder();
    const httpPort = await responder.listen();
    pebble = await startPebble({ httpPort });
  });

  after(async () => {
    for (const m of managers) await m.stop();
    await pebble?.stop();
    await new Promise<void>((resolve) => responder.server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('issues a certificate for a host, stored 0600 in a 0700 directory, valid under the CA root', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    const issuedEvents: string[] = [];
    const m = manager({ onIssued: (host) => issuedEvents.push(host) });
    const issued = await m.ensure('API.example.test');
    assert.equal(issued.host, 'api.example.test');
    assert.equal(issued.source, 'ca');
    assert.deepEqual(issued.info.hosts, ['api.example.test']);
    assert.ok(issued.info.notAfter > Date.now());
    assert.deepEqual(issuedEvents, ['api.example.test']);
    assert.ok((responder.hits.get('api.example.test') ?? 0) >= 1, 'pebble fetched the token');
    assert.equal(responder.tokens.size, 0, 'token withdrawn after the order');

    const certsDir = path.join(dir, 'certs');
    assert.equal(statSync(certsDir).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(certsDir, 'hosts')).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(certsDir, 'hosts', 'api.example.test.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(certsDir, 'account.key')).mode & 0o777, 0o600);
    assert.deepEqual(await new CertStore(certsDir).list(), ['api.example.test']);

    const serial = await handshake(issued, await pebble.rootsPem(), 'api.example.test');
    assert.equal(serial, issued.info.serialNumber);

    const [status] = m.status();
    assert.equal(status.host, 'api.example.test');
    assert.equal(status.state, 'valid');
    assert.equal(status.failures, 0);
    assert.equal(status.notAfter, issued.info.notAfter);
    assert.ok(status.renewAt !== undefined && status.renewAt < issued.info.notAfter);
  });

  test('a second manager on the same store serves the stored certificate and reuses the account', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    const store = new CertStore(path.join(dir, 'certs'));
    const accountBefore = await store.loadAccount();
    const keyBefore = await store.loadAccountKey();
    const first = await store.load('api.example.test');
    assert.ok(first !== undefined && accountBefore !== undefined);
    const publishedBefore = responder.published.length;

    const m = manager();
    const issued = await m.ensure('api.example.test');
    assert.equal(issued.source, 'store');
    assert.equal(issued.certPem.trim(), first.certPem.trim());
    assert.equal(responder.published.length, publishedBefore, 'no order for a stored certificate');

    // An order on the second manager signs with the stored account instead of creating another.
    await m.ensure('second.example.test');
    assert.deepEqual(await store.loadAccount(), accountBefore);
    assert.equal(await store.loadAccountKey(), keyBefore);
  });

  test('a forced renew issues a new certificate with a different serial', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    const issued: IssuedCertificate[] = [];
    const m = manager({ onIssued: (_host, c) => issued.push(c) });
    const old = await m.ensure('api.example.test');
    const renewed = await m.renew('api.example.test');
    assert.equal(renewed.source, 'ca');
    assert.notEqual(renewed.info.serialNumber, old.info.serialNumber);
    assert.deepEqual(
      issued.map((c) => c.info.serialNumber),
      [renewed.info.serialNumber],
    );
    const stored = await new CertStore(path.join(dir, 'certs')).load('api.example.test');
    assert.equal(
      new X509Certificate(stored?.certPem ?? '').serialNumber.toUpperCase(),
      renewed.info.serialNumber,
    );
    // Served from memory now: the same certificate, no new order.
    assert.equal((await m.ensure('api.example.test')).info.serialNumber, renewed.info.serialNumber);
  });

  test('concurrent ensure and renew calls for one host share a single order', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    const m = manager();
    const publishedBefore = responder.published.length;
    const calls = [
      ...Array.from({ length: 6 }, () => m.ensure('burst.example.test')),
      m.renew('burst.example.test'),
    ];
    const results = await Promise.all(calls);
    assert.equal(responder.published.length - publishedBefore, 1, 'one challenge published, so one order');
    assert.equal(new Set(results.map((r) => r.info.fingerprint256)).size, 1);
    assert.ok((responder.hits.get('burst.example.test') ?? 0) >= 1, 'pebble validated the one challenge');
  });

  test('a host whose challenge fails ends failed and is not retried before its back-off delay', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    let now = Date.now();
    const failedEvents: string[] = [];
    const m = manager({
      now: () => now,
      random: () => 0,
      retry: { floorMs: 60_000, capMs: 3_600_000 },
      onFailed: (host) => failedEvents.push(host),
    });
    responder.broken.add('broken.example.test');
    const publishedBefore = responder.published.length;

    const err = await m.ensure('broken.example.test').then(
      () => assert.fail('issued a certificate for a broken host'),
      (e: Error) => e,
    );
    assert.match(
      err.message,
      /acme order for broken\.example\.test failed while validating the http-01 challenge/,
    );
    assert.match(err.message, /404/);
    assert.deepEqual(failedEvents, ['broken.example.test']);
    const status = m.status().find((s) => s.host === 'broken.example.test');
    assert.ok(status !== undefined);
    assert.equal(status.state, 'failed');
    assert.equal(status.failures, 1);
    assert.equal(status.lastError, err.message);
    assert.equal(status.nextAttemptAt, now + 60_000);
    assert.equal(responder.published.length - publishedBefore, 1);

    // In back-off: the last error at once, for every caller, and no request to the CA.
    now += 59_000;
    const again = await Promise.allSettled([
      m.ensure('broken.example.test'),
      m.ensure('broken.example.test'),
    ]);
    assert.deepEqual(
      again.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'issued')),
      [err.message, err.message],
    );
    assert.equal(responder.published.length - publishedBefore, 1, 'no new order during the back-off');

    // Past the delay: one new order, failing again, with a doubled delay.
    now += 1_000;
    await assert.rejects(m.ensure('broken.example.test'), /validating the http-01 challenge/);
    assert.equal(responder.published.length - publishedBefore, 2);
    const second = m.status().find((s) => s.host === 'broken.example.test');
    assert.equal(second?.failures, 2);
    assert.equal(second?.nextAttemptAt, now + 120_000);
  });

  test('start() reports stored certificates, and its timer retries a failed host after the delay', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    const issued: IssuedCertificate[] = [];
    const failures: Array<{ host: string; at: number }> = [];
    const m = manager({
      retry: { floorMs: 300, capMs: 1000 },
      random: () => 0,
      onIssued: (_h, c) => issued.push(c),
      onFailed: (host) => failures.push({ host, at: Date.now() }),
    });
    responder.broken.add('timer.example.test');
    await m.start(['api.example.test', 'timer.example.test']);
    assert.deepEqual(
      issued.map((c) => [c.host, c.source]),
      [['api.example.test', 'store']],
    );
    await waitFor(() => failures.length > 0, ISSUE_TIMEOUT_MS, 'the first failed order');
    const failedStatus = m.status().find((s) => s.host === 'timer.example.test');
    assert.equal(failedStatus?.state, 'failed');
    const retryAt = failedStatus?.nextAttemptAt ?? 0;
    const publishedAfterFailure = responder.published.length;
    responder.broken.delete('timer.example.test');

    await waitFor(() => issued.some((c) => c.host === 'timer.example.test'), ISSUE_TIMEOUT_MS, 'the retry');
    const retried = responder.published.slice(publishedAfterFailure);
    assert.equal(retried.length, 1, JSON.stringify({ retried, failures, retryAt }));
    assert.ok(retried[0].at >= retryAt, 'the retry waited for its back-off delay');
    assert.equal(m.status().find((s) => s.host === 'timer.example.test')?.state, 'valid');
    await m.stop();
  });

  test('start() renews a stored certificate once its renewal time has come', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    const store = new CertStore(path.join(dir, 'certs'));
    const stored = await store.load('api.example.test');
    assert.ok(stored !== undefined);
    const old = new X509Certificate(stored.certPem);
    const notBefore = old.validFromDate.getTime();
    const notAfter = old.validToDate.getTime();
    // A clock past renewAt (two thirds of the lifetime) but before expiry.
    const now = notBefore + (notAfter - notBefore) * 0.7;
    const issued: IssuedCertificate[] = [];
    const m = manager({ now: () => now, onIssued: (_h, c) => issued.push(c) });
    await m.start(['api.example.test']);
    await waitFor(() => issued.some((c) => c.source === 'ca'), ISSUE_TIMEOUT_MS, 'the renewal');
    assert.equal(issued[0].source, 'store');
    const renewed = issued.find((c) => c.source === 'ca');
    assert.notEqual(renewed?.info.serialNumber, old.serialNumber.toUpperCase());
    await m.stop();
  });

  test('the ACME server CA is trusted only for the ACME origin, not by other HTTPS in the process', {
    timeout: ISSUE_TIMEOUT_MS,
  }, async () => {
    const m = manager();
    await m.renew('api.example.test');
    // pebble's management API is served with the same listener CA, on another origin.
    const roots = `${pebble.managementUrl}/roots/0`;
    await assert.rejects(fetch(roots), 'fetch() does not trust the ACME server CA');
    await assert.rejects(
      new Promise((resolve, reject) => https.get(roots, { agent: undefined }, resolve).once('error', reject)),
      /certificate/,
    );
  });

  test('rejects a host an http-01 certificate cannot be issued for', async () => {
    const m = manager();
    await assert.rejects(
      m.ensure('*.example.test'),
      /not a host name an http-01 certificate can be issued for/,
    );
    await assert.rejects(m.ensure('localhost'), /not a host name/);
  });

  test('rejects bad options with a message naming the option', () => {
    assert.throws(() => manager({ directory: 'http://127.0.0.1/dir' }), /acme directory .*https:\/\//);
    assert.throws(() => manager({ email: 'nobody' }), /acme email "nobody"/);
    assert.throws(() => manager({ caCert: 'garbage' }), /acme caCert: not a PEM certificate/);
    assert.throws(() => manager({ retry: { floorMs: 0, capMs: 1 } }), /acme retry\.floorMs/);
  });
});
