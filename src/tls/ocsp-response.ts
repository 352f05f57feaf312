/**
 * Reading an OCSP response (RFC 6960 4.2) far enough to decide whether it may be stapled: the response
 * status, the basic response's signature (by the issuer, or by a responder certificate the issuer signed
 * for OCSP signing), and the single response for our CertID: its status and validity window. Anything
 * else throws `OcspResponseError`, and the caller staples nothing.
 */
import { type KeyObject, verify, X509Certificate } from 'node:crypto';
import {
  bitStringBytes,
  children,
  contextPrimitiveTag,
  contextTag,
  DerError,
  decodeGeneralizedTime,
  decodeOid,
  decodeSmallInt,
  expectTag,
  readOnly,
  TAG,
  type Tlv,
} from './ocsp-der.ts';
import { type CertId, certIdHashes } from './ocsp-request.ts';

export type OcspCertStatus = 'good' | 'revoked' | 'unknown';

export interface OcspAnswer {
  status: OcspCertStatus;
  /** ms since the epoch. */
  thisUpdate: number;
  /** Absent when the responder says newer information is always available. */
  nextUpdate?: number;
  revokedAt?: number;
}

export class OcspResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OcspResponseError';
  }
}

/** A response dated this far in the future is still accepted (the responder's clock is not ours). */
export const OCSP_CLOCK_SKEW_MS = 5 * 60_000;

const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const ID_KP_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';

/** OCSPResponseStatus values (RFC 6960 4.2.1; 4 is not used). */
const RESPONSE_STATUS: Record<number, string> = {
  0: 'successful',
  1: 'malformedRequest',
  2: 'internalError',
  3: 'tryLater',
  5: 'sigRequired',
  6: 'unauthorized',
};

/** Signature algorithms a responder uses, and the digest node:crypto verifies them with (null: Ed25519/448). */
const SIGNATURE_DIGEST: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

/** CertID hash algorithms a responder may answer with (it usually echoes the request's SHA-1). */
const CERT_ID_DIGEST: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/**
 * The answer about `id` in `der`, checked: status successful, signed by `issuer` or its delegated
 * responder, not dated in the future, not past its nextUpdate at `nowMs`.
 */
export function parseOcspResponse(
  der: Buffer,
  id: CertId,
  issuer: X509Certificate,
  nowMs: number,
): OcspAnswer {
  try {
    return parse(der, id, issuer, nowMs);
  } catch (err) {
    if (err instanceof DerError) throw new OcspResponseError(`malformed OCSP response: ${err.message}`);
    throw err;
  }
}

function parse(der: Buffer, id: CertId, issuer: X509Certificate, nowMs: number): OcspAnswer {
  const [statusTlv, bytesTlv] = children(readOnly(der, TAG.sequence, 'OCSPResponse'));
  const status = decodeSmallInt(expectTag(statusTlv, TAG.enumerated, 'responseStatus').value);
  if (status !== 0) {
    throw new OcspResponseError(`responder answered ${RESPONSE_STATUS[status] ?? `status ${status}`}`);
  }
  const responseBytes = expectTag(
    children(expectTag(bytesTlv, contextTag(0), 'responseBytes'))[0],
    TAG.sequence,
    'ResponseBytes',
  );
  const [typeTlv, bodyTlv] = children(responseBytes);
  const type = decodeOid(expectTag(typeTlv, TAG.oid, 'responseType').value);
  if (type !== ID_PKIX_OCSP_BASIC) throw new OcspResponseError(`response type ${type} is not basic`);
  const basic = readOnly(
    expectTag(bodyTlv, TAG.octetString, 'response').value,
    TAG.sequence,
    'BasicOCSPResponse',
  );
  const [tbs, algorithm, signature, certs] = children(basic);
  expectTag(tbs, TAG.sequence, 'tbsResponseData');
  checkSignature(tbs, algorithm, signature, certs, issuer, nowMs);
  const answer = singleResponseFor(tbs, id);
  if (answer.thisUpdate > nowMs + OCSP_CLOCK_SKEW_MS) {
    throw new OcspResponseError(
      `response dated in the future (${new Date(answer.thisUpdate).toISOString()})`,
    );
  }
  if (answer.nextUpdate !== undefined && answer.nextUpdate <= nowMs) {
    throw new OcspResponseError(`response expired at ${new Date(answer.nextUpdate).toISOString()}`);
  }
  return answer;
}

/** ResponseData { [0] version?, responderID, producedAt, responses, [1] extensions? }: the one for `id`. */
function singleResponseFor(tbs: Tlv, id: CertId): OcspAnswer {
  const fields = children(tbs);
  const at = fields[0]?.tag === contextTag(0) ? 1 : 0;
  const responses = children(expectTag(fields[at + 2], TAG.sequence, 'responses'));
  for (const single of responses) {
    const [certId, certStatus, thisUpdate, ...rest] = children(
      expectTag(single, TAG.sequence, 'SingleResponse'),
    );
    if (!sameCertId(expectTag(certId, TAG.sequence, 'certID'), id)) continue;
    const answer: OcspAnswer = {
      status: statusOf(certStatus),
      thisUpdate: decodeGeneralizedTime(expectTag(thisUpdate, TAG.generalizedTime, 'thisUpdate').value),
    };
    const next = rest.find((t) => t.tag === contextTag(0));
    if (next !== undefined) {
      const time = expectTag(children(next)[0], TAG.generalizedTime, 'nextUpdate');
      answer.nextUpdate = decodeGeneralizedTime(time.value);
    }
    if (answer.status === 'revoked') {
      const info = children(certStatus)[0];
      answer.revokedAt = decodeGeneralizedTime(expectTag(info, TAG.generalizedTime, 'revocationTime').value);
    }
    return answer;
  }
  throw new OcspResponseError(`no answer for serial ${id.serial.toString('hex')} among ${responses.length}`);
}

/** good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo (constructed), unknown [2] IMPLICIT NULL. */
function statusOf(tlv: Tlv | undefined): OcspCertStatus {
  if (tlv?.tag === contextPrimitiveTag(0)) return 'good';
  if (tlv?.tag === contextTag(1)) return 'revoked';
  if (tlv?.tag === contextPrimitiveTag(2)) return 'unknown';
  throw new DerError(`certStatus: unexpected tag ${tlv === undefined ? 'none' : tlv.tag}`);
}

/** Same serial and same issuer, whichever hash the responder used for the issuer. */
function sameCertId(tlv: Tlv, id: CertId): boolean {
  const [algorithm, nameHash, keyHash, serial] = children(tlv);
  const oid = decodeOid(
    expectTag(children(expectTag(algorithm, TAG.sequence, 'hashAlgorithm'))[0], TAG.oid, 'hash OID').value,
  );
  if (!expectTag(serial, TAG.integer, 'serialNumber').value.equals(id.serial)) return false;
  const digest = CERT_ID_DIGEST[oid];
  if (digest === undefined) return false;
  const [name, key] = certIdHashes(id, digest);
  return (
    name.equals(expectTag(nameHash, TAG.octetString, 'issuerNameHash').value) &&
    key.equals(expectTag(keyHash, TAG.octetString, 'issuerKeyHash').value)
  );
}

/**
 * The signature over tbsResponseData verifies with the issuer's key, or with the key of a certificate in
 * `certs` that the issuer signed, marked for OCSP signing and valid now (a delegated responder, 4.2.2.2).
 */
function checkSignature(
  tbs: Tlv,
  algorithm: Tlv | undefined,
  signature: Tlv | undefined,
  certs: Tlv | undefined,
  issuer: X509Certificate,
  nowMs: number,
): void {
  const oid = decodeOid(
    expectTag(children(expectTag(algorithm, TAG.sequence, 'signatureAlgorithm'))[0], TAG.oid, 'signature OID')
      .value,
  );
  if (!(oid in SIGNATURE_DIGEST)) throw new OcspResponseError(`unsupported signature algorithm ${oid}`);
  const digest = SIGNATURE_DIGEST[oid];
  const bytes = bitStringBytes(expectTag(signature, TAG.bitString, 'signature').value);
  const keys: KeyObject[] = [issuer.publicKey];
  if (certs !== undefined) {
    for (const c of children(
      expectTag(children(expectTag(certs, contextTag(0), 'certs'))[0], TAG.sequence, 'certs'),
    )) {
      const responder = new X509Certificate(c.raw);
      if (delegatedBy(responder, issuer, nowMs)) keys.push(responder.publicKey);
    }
  }
  for (const key of keys) {
    if (verify(digest, tbs.raw, key, bytes)) return;
  }
  throw new OcspResponseError(
    'response signature does not verify with the issuer or a responder it authorised',
  );
}

function delegatedBy(responder: X509Certificate, issuer: X509Certificate, nowMs: number): boolean {
  return (
    responder.checkIssued(issuer) &&
    responder.verify(issuer.publicKey) &&
    // node names the extended key usage list `keyUsage`.
    (responder.keyUsage ?? []).includes(ID_KP_OCSP_SIGNING) &&
    responder.validFromDate.getTime() <= nowMs &&
    nowMs < responder.validToDate.getTime()
  );
}
