/**
 * The OCSP request for one certificate (RFC 6960 4.1): a CertID naming it by its issuer (SHA-1 of the
 * issuer's name and of its public key, the hashes every responder accepts) and its serial. No nonce: the
 * answer is cached and stapled to many handshakes, so it cannot be bound to one request anyway.
 */
import { createHash, X509Certificate } from 'node:crypto';
import {
  bitStringBytes,
  children,
  DerError,
  encodeOid,
  encodeTlv,
  expectTag,
  readOnly,
  TAG,
  type Tlv,
} from './ocsp-der.ts';

/** id-sha1 (1.3.14.3.2.26), the CertID hash of RFC 6960 and RFC 5019. */
export const SHA1_OID = '1.3.14.3.2.26';

/**
 * Names a certificate to its responder. Kept as the hashed sources, not the hashes, so an answer whose
 * CertID uses another hash than the request's can still be matched.
 */
export interface CertId {
  /** The whole `issuer` Name TLV of the certificate (the name hash is taken over it). */
  issuerName: Buffer;
  /** The issuer's subjectPublicKey bits (the key hash is taken over them). */
  issuerKey: Buffer;
  /** The serial INTEGER's content bytes as the certificate encodes them. */
  serial: Buffer;
}

interface CertificateParts {
  serial: Buffer;
  issuerName: Buffer;
  publicKeyBits: Buffer;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM chain in order (leaf first). */
export function splitChain(certPem: string): X509Certificate[] {
  return (certPem.match(PEM_BLOCK) ?? []).map((block) => new X509Certificate(block));
}

/** The issuer of the leaf of `certPem`: the next certificate, if it is the one that signed the leaf. */
export function issuerInChain(certPem: string): { leaf: X509Certificate; issuer?: X509Certificate } {
  const [leaf, next] = splitChain(certPem);
  if (leaf === undefined) throw new DerError('no certificate in the PEM text');
  if (next !== undefined && leaf.checkIssued(next) && leaf.verify(next.publicKey))
    return { leaf, issuer: next };
  return { leaf };
}

export function certIdOf(leaf: X509Certificate, issuer: X509Certificate): CertId {
  const l = certificateParts(leaf.raw);
  return {
    issuerName: l.issuerName,
    issuerKey: certificateParts(issuer.raw).publicKeyBits,
    serial: l.serial,
  };
}

/** The (name hash, key hash) pair of `id` with `digest` (a node:crypto hash name). */
export function certIdHashes(id: CertId, digest: string): [Buffer, Buffer] {
  return [
    createHash(digest).update(id.issuerName).digest(),
    createHash(digest).update(id.issuerKey).digest(),
  ];
}

/** The CertID SEQUENCE with the SHA-1 AlgorithmIdentifier (parameters NULL, as RFC 5019 has it). */
export function encodeCertId(id: CertId): Buffer {
  const [nameHash, keyHash] = certIdHashes(id, 'sha1');
  const algorithm = encodeTlv(TAG.sequence, encodeOid(SHA1_OID), encodeTlv(TAG.null));
  return encodeTlv(
    TAG.sequence,
    algorithm,
    encodeTlv(TAG.octetString, nameHash),
    encodeTlv(TAG.octetString, keyHash),
    encodeTlv(TAG.integer, id.serial),
  );
}

/** OCSPRequest { tbsRequest { requestList { Request { reqCert } } } }, unsigned, version v1 by default. */
export function encodeOcspRequest(id: CertId): Buffer {
  const request = encodeTlv(TAG.sequence, encodeCertId(id));
  const tbsRequest = encodeTlv(TAG.sequence, encodeTlv(TAG.sequence, request));
  return encodeTlv(TAG.sequence, tbsRequest);
}

/** Certificate { tbsCertificate { [0] version, serial, signature, issuer, validity, subject, spki, ... } }. */
function certificateParts(der: Buffer): CertificateParts {
  const tbs = expectTag(
    children(readOnly(der, TAG.sequence, 'certificate'))[0],
    TAG.sequence,
    'tbsCertificate',
  );
  const fields = children(tbs);
  // The version is EXPLICIT [0] and absent for v1 certificates.
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = expectTag(fields[at], TAG.integer, 'serialNumber');
  const issuerName = expectTag(fields[at + 2], TAG.sequence, 'issuer');
  const spki: Tlv = expectTag(fields[at + 5], TAG.sequence, 'subjectPublicKeyInfo');
  const bits = expectTag(children(spki)[1], TAG.bitString, 'subjectPublicKey');
  return { serial: serial.value, issuerName: issuerName.raw, publicKeyBits: bitStringBytes(bits.value) };
}
