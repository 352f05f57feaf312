/**
 * The OCSP request and response pieces against the real `openssl ocsp`: the request we build is the one
 * openssl builds, and the responses openssl signs are read as good / revoked / unknown, while anything
 * that must not be stapled (wrong signer, other certificate, error status, expired) is refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from '../../test/helpers/certs.ts';
import { tempDir } from '../../test/helpers/gateway-process.ts';
import { answerOnce, caDatabase } from '../../test/helpers/ocsp.ts';
import { certIdOf, encodeOcspRequest, issuerInChain } from './ocsp-request.ts';
import { OcspResponseError, parseOcspResponse } from './ocsp-response.ts';

const DAY_MS = 86_400_000;

function setup(t: import('node:test').TestContext) {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const db = caDatabase(ca);
  const leaf = makeLeaf(ca, ['a.example.test'], { ocspUrl: 'http://127.0.0.1:1' });
  return { dir, ca, db, leaf };
}

function idFor(leaf: TestLeaf, ca: TestCa) {
  const { leaf: cert, issuer } = issuerInChain(leaf.certPem + ca.certPem);
  assert.ok(issuer !== undefined);
  return { id: certIdOf(cert, issuer), issuer };
}

test('the request is byte for byte the one openssl builds without a nonce', (t) => {
  const { dir, ca, leaf } = setup(t);
  const out = path.join(dir, 'openssl.req');
  execFileSync(
    'openssl',
    ['ocsp', '-issuer', ca.certFile, '-cert', leaf.certFile, '-no_nonce', '-reqout', out],
    {
      stdio: 'pipe',
    },
  );
  assert.equal(encodeOcspRequest(idFor(leaf, ca).id).toString('hex'), readFileSync(out).toString('hex'));
});

test('the issuer is the certificate after the leaf, and only if it signed the leaf', (t) => {
  const { dir, ca, leaf } = setup(t);
  assert.equal(issuerInChain(leaf.certPem).issuer, undefined);
  const other = makeCa(dir, 'Other CA');
  assert.equal(issuerInChain(leaf.certPem + other.certPem).issuer, undefined);
  assert.equal(issuerInChain(leaf.certPem + ca.certPem).issuer?.subject, 'CN=Cutover Test CA');
});

test('a good certificate reads as good with its validity window', (t) => {
  const { ca, db, leaf } = setup(t);
  db.add(leaf);
  const { id, issuer } = idFor(leaf, ca);
  const now = Date.now();
  const answer = parseOcspResponse(answerOnce(ca, db, encodeOcspRequest(id)), id, issuer, now);
  assert.equal(answer.status, 'good');
  assert.ok(Math.abs(answer.thisUpdate - now) < 60_000, 'thisUpdate is about now');
  assert.ok(Math.abs(answer.nextUpdate! - answer.thisUpdate - DAY_MS) < 1000, 'nextUpdate one day later');
});

test('a revoked certificate reads as revoked, with the revocation time', (t) => {
  const { ca, db, leaf } = setup(t);
  db.add(leaf);
  db.revoke(leaf);
  const { id, issuer } = idFor(leaf, ca);
  const answer = parseOcspResponse(answerOnce(ca, db, encodeOcspRequest(id)), id, issuer, Date.now());
  assert.equal(answer.status, 'revoked');
  assert.ok(answer.revokedAt !== undefined && Math.abs(answer.revokedAt - Date.now()) < 60_000);
});

test('a certificate the CA database does not hold reads as unknown', (t) => {
  const { ca, db, leaf } = setup(t);
  const { id, issuer } = idFor(leaf, ca);
  assert.equal(
    parseOcspResponse(answerOnce(ca, db, encodeOcspRequest(id)), id, issuer, Date.now()).status,
    'unknown',
  );
});

test('a response signed by a delegated OCSP responder of the issuer is accepted', (t) => {
  const { ca, db, leaf } = setup(t);
  db.add(leaf);
  const responder = makeLeaf(ca, ['ocsp.example.test'], { extendedKeyUsage: 'OCSPSigning' });
  const { id, issuer } = idFor(leaf, ca);
  const der = answerOnce(ca, db, encodeOcspRequest(id), responder);
  assert.equal(parseOcspResponse(der, id, issuer, Date.now()).status, 'good');
});

test('a response signed by a certificate of the issuer not marked for OCSP signing is refused', (t) => {
  const { ca, db, leaf } = setup(t);
  db.add(leaf);
  const server = makeLeaf(ca, ['www.example.test']);
  const { id, issuer } = idFor(leaf, ca);
  const der = answerOnce(ca, db, encodeOcspRequest(id), server);
  assert.throws(() => parseOcspResponse(der, id, issuer, Date.now()), /signature does not verify/);
});

test('a response signed by another CA is refused', (t) => {
  const { dir, ca, db, leaf } = setup(t);
  db.add(leaf);
  const other = makeCa(dir, 'Other CA');
  const { id, issuer } = idFor(leaf, ca);
  const der = answerOnce(ca, db, encodeOcspRequest(id), other);
  assert.throws(() => parseOcspResponse(der, id, issuer, Date.now()), /signature does not verify/);
});

test('a response about another certificate is refused, whatever it says', (t) => {
  const { ca, db, leaf } = setup(t);
  const sibling = makeLeaf(ca, ['b.example.test']);
  db.add(leaf);
  db.add(sibling);
  const mine = idFor(leaf, ca);
  const der = answerOnce(ca, db, encodeOcspRequest(idFor(sibling, ca).id));
  assert.throws(() => parseOcspResponse(der, mine.id, mine.issuer, Date.now()), /no answer for serial/);
});

test('a response past its nextUpdate, or dated in the future, is refused', (t) => {
  const { ca, db, leaf } = setup(t);
  db.add(leaf);
  const { id, issuer } = idFor(leaf, ca);
  const der = answerOnce(ca, db, encodeOcspRequest(id));
  assert.throws(() => parseOcspResponse(der, id, issuer, Date.now() + 2 * DAY_MS), /response expired/);
  assert.throws(() => parseOcspResponse(der, id, issuer, Date.now() - DAY_MS), /dated in the future/);
});

test('error statuses and malformed bytes are refused with the reason', (t) => {
  const { ca, leaf } = setup(t);
  const { id, issuer } = idFor(leaf, ca);
  const cases: [string, RegExp][] = [
    ['30030a0103', /responder answered tryLater/],
    ['30030a0106', /responder answered unauthorized/],
    ['30030a0101', /responder answered malformedRequest/],
    ['30030a0000', /malformed OCSP response/],
    ['3005', /malformed OCSP response/],
    ['3003020100', /malformed OCSP response: responseStatus: tag 0x02/],
    ['', /malformed OCSP response/],
  ];
  for (const [input, error] of cases) {
    assert.throws(
      () => parseOcspResponse(Buffer.from(input, 'hex'), id, issuer, Date.now()),
      (err: Error) => err instanceof OcspResponseError && error.test(err.message),
      input,
    );
  }
});
