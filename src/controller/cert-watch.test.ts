import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CertificateStatus } from '../gateway/master-certs.ts';
import { changeEvents } from './cert-watch.ts';

const acme = (over: Partial<CertificateStatus>): CertificateStatus => ({
  hosts: ['api.example.com'],
  source: 'acme',
  state: 'valid',
  ...over,
});

test('certificate readings become events: failed once per error, issued when the expiry moves', () => {
  const rows: Array<[string, CertificateStatus | undefined, CertificateStatus, string[]]> = [
    [
      'first ACME certificate',
      undefined,
      acme({ notAfter: '2027-01-01T00:00:00.000Z' }),
      ['CertificateIssued'],
    ],
    [
      'first static certificate: nothing to say',
      undefined,
      acme({ source: 'static', notAfter: '2027-01-01T00:00:00.000Z' }),
      [],
    ],
    ['unchanged', acme({ notAfter: 'A' }), acme({ notAfter: 'A' }), []],
    ['renewed', acme({ notAfter: 'A' }), acme({ notAfter: 'B' }), ['CertificateIssued']],
    [
      'order fails, old one kept',
      acme({ notAfter: 'A' }),
      acme({ notAfter: 'A', state: 'failed', error: 'x' }),
      ['CertificateFailed'],
    ],
    [
      'still failing the same way',
      acme({ state: 'failed', error: 'x' }),
      acme({ state: 'failed', error: 'x' }),
      [],
    ],
    [
      'failing another way',
      acme({ state: 'failed', error: 'x' }),
      acme({ state: 'failed', error: 'y' }),
      ['CertificateFailed'],
    ],
    ['ordering', undefined, acme({ state: 'ordering' }), []],
  ];
  for (const [name, prev, cur, want] of rows) {
    assert.deepEqual(
      changeEvents(prev, cur).map((e) => e.type),
      want,
      name,
    );
  }
  const failed = changeEvents(
    acme({ notAfter: 'A' }),
    acme({ notAfter: 'A', state: 'failed', error: 'CA said no' }),
  );
  assert.match(
    failed[0].message,
    /api\.example\.com \(acme\): CA said no; the certificate valid until A stays in use/,
  );
});
