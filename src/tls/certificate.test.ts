import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CertificateError, coversHost, inspectCertificate, loadCertificateFiles } from './certificate.ts';

const DAY_MS = 86_400_000;

interface Pair {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** Test certificates made with openssl: a CA, leaves signed by it, a self-signed CN-only one. */
function makeCertificates(dir: string) {
  const f = (n: string) => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '3',
    '-subj',
    '/CN=Test CA',
  ]);
  const leaf = (name: string, subject: string, ext: string): Pair => {
    writeFileSync(f(`${name}.ext`), ext);
    openssl(['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subject]);
    openssl([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.crt`),
    ]);
    return {
      cert: readFileSync(f(`${name}.crt`), 'utf8'),
      key: readFileSync(f(`${name}.key`), 'utf8'),
      certFile: f(`${name}.crt`),
      keyFile: f(`${name}.key`),
    };
  };
  const api = leaf(
    'api',
    '/CN=api.example.com',
    'subjectAltName=DNS:API.example.com,DNS:*.apps.example.com,IP:127.0.0.1\n' +
      'authorityInfoAccess=OCSP;URI:http://ocsp.example.com,caIssuers;URI:http://ca.example.com/ca.crt\n',
  );
  const other = leaf('other', '/CN=other.example.com', 'subjectAltName=DNS:other.example.com\n');
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('cn.key'),
    '-out',
    f('cn.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=Legacy.Example.com',
  ]);
  const cnOnly: Pair = {
    cert: readFileSync(f('cn.crt'), 'utf8'),
    key: readFileSync(f('cn.key'), 'utf8'),
    certFile: f('cn.crt'),
    keyFile: f('cn.key'),
  };
  return { api, other, cnOnly, ca: readFileSync(f('ca.crt'), 'utf8') };
}

describe('inspectCertificate', () => {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  // Taken after openssl ran: its notBefore has whole seconds and may lie after a `now` read earlier.
  let now = 0;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cutover-cert-'));
    certs = makeCertificates(dir);
    now = Date.now() + 1000;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('reads hosts (SAN DNS names, lower-case), issuer, subject, validity, fingerprint and OCSP URL', () => {
    const info = inspectCertificate(certs.api.cert, certs.api.key, now);
    assert.deepEqual(info.hosts, ['api.example.com', '*.apps.example.com']);
    assert.equal(info.issuer, 'CN=Test CA');
    assert.equal(info.subject, 'CN=api.example.com');
    assert.ok(info.notBefore <= now && now < info.notAfter);
    assert.ok(info.notAfter - info.notBefore >= DAY_MS - 1000);
    assert.match(info.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.match(info.serialNumber, /^[0-9A-F]+$/);
    assert.equal(info.ocspUrl, 'http://ocsp.example.com');
  });

  test('uses the subject CN only when there is no SAN, and has no OCSP URL without AIA', () => {
    const info = inspectCertificate(certs.cnOnly.cert, certs.cnOnly.key, now);
    assert.deepEqual(info.hosts, ['legacy.example.com']);
    assert.equal(info.ocspUrl, undefined);
  });

  test('accepts a chain: the first certificate is the leaf', () => {
    const info = inspectCertificate(`${certs.api.cert}${certs.ca}`, certs.api.key, now);
    assert.equal(info.subject, 'CN=api.example.com');
  });

  const rejects: Array<{
    name: string;
    cert: () => string;
    key: () => string;
    at?: () => number;
    message: RegExp;
  }> = [
    {
      name: 'garbage certificate',
      cert: () => 'hello',
      key: () => certs.api.key,
      message: /not a PEM certificate/,
    },
    {
      name: 'damaged certificate body',
      cert: () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      key: () => certs.api.key,
      message: /unparsable certificate/,
    },
    { name: 'garbage key', cert: () => certs.api.cert, key: () => 'nope', message: /not a PEM private key/ },
    {
      name: 'damaged key body',
      cert: () => certs.api.cert,
      key: () => '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      message: /unparsable private key/,
    },
    {
      name: 'a key of another certificate',
      cert: () => certs.api.cert,
      key: () => certs.other.key,
      message: /^key does not match the certificate$/,
    },
    {
      name: 'expired',
      cert: () => certs.api.cert,
      key: () => certs.api.key,
      at: () => now + 2 * DAY_MS,
      message: /^certificate expired on \d{4}-/,
    },
    {
      name: 'not yet valid',
      cert: () => certs.api.cert,
      key: () => certs.api.key,
      at: () => now - DAY_MS,
      message: /^certificate is not valid before \d{4}-/,
    },
  ];
  for (const r of rejects) {
    test(`rejects ${r.name} with a CertificateError`, () => {
      assert.throws(
        () => inspectCertificate(r.cert(), r.key(), r.at?.() ?? now),
        (err: unknown) => err instanceof CertificateError && r.message.test(err.message),
      );
    });
  }
});

describe('loadCertificateFiles', () => {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cutover-cert-'));
    certs = makeCertificates(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('loads a certificate and key from files', async () => {
    const loaded = await loadCertificateFiles(certs.api.certFile, certs.api.keyFile, Date.now());
    assert.equal(loaded.certPem, certs.api.cert);
    assert.equal(loaded.keyPem, certs.api.key);
    assert.deepEqual(loaded.info.hosts, ['api.example.com', '*.apps.example.com']);
  });

  test('names the certificate file when the key does not match', async () => {
    await assert.rejects(
      loadCertificateFiles(certs.api.certFile, certs.other.keyFile, Date.now()),
      new CertificateError(
        `tls certificate ${certs.api.certFile}: key does not match the certificate`,
        'certificate',
      ),
    );
  });

  test('names the key file when the key is unparsable or missing', async () => {
    await assert.rejects(
      loadCertificateFiles(certs.api.certFile, certs.api.certFile, Date.now()),
      (err: Error) =>
        err.message === `tls key ${certs.api.certFile}: not a PEM private key (no BEGIN PRIVATE KEY block)`,
    );
    const missing = path.join(dir, 'missing.key');
    await assert.rejects(
      loadCertificateFiles(certs.api.certFile, missing, Date.now()),
      (err: Error) => err.message === `tls key ${missing}: cannot read the file (no such file)`,
    );
  });

  test('names the certificate file when it is expired', async () => {
    await assert.rejects(
      loadCertificateFiles(certs.api.certFile, certs.api.keyFile, Date.now() + 2 * DAY_MS),
      (err: Error) => err.message.startsWith(`tls certificate ${certs.api.certFile}: certificate expired on`),
    );
  });
});

describe('coversHost', () => {
  const hosts = ['api.example.com', '*.apps.example.com'];
  const table: Array<[string, boolean]> = [
    ['api.example.com', true],
    ['API.Example.COM', true],
    ['api.example.com.', true],
    ['web.apps.example.com', true],
    ['WEB.apps.example.com', true],
    ['a.web.apps.example.com', false],
    ['apps.example.com', false],
    ['.apps.example.com', false],
    ['example.com', false],
    ['other.example.com', false],
  ];
  for (const [host, expected] of table) {
    test(`${host} -> ${expected}`, () => assert.equal(coversHost(hosts, host), expected));
  }
  test('no hosts cover nothing', () => assert.equal(coversHost([], 'api.example.com'), false));
});
