/**
 * A TLS certificate and its key, loaded and checked before anything serves them: a listener that
 * starts with a mismatched key or an expired certificate fails every handshake, so the mistake is
 * reported here, in plain words, at load time.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface CertificateInfo {
  /** DNS names the certificate covers (SAN DNS entries, lower-case; the subject CN only when there is no SAN). */
  hosts: string[];
  issuer: string;
  subject: string;
  /** Validity window, ms since the epoch. */
  notBefore: number;
  notAfter: number;
  /** SHA-256 fingerprint, colon-separated hex (as node:crypto prints it). */
  fingerprint256: string;
  /** Serial number, upper-case hex. */
  serialNumber: string;
  /** The OCSP responder named in the certificate's Authority Information Access, if any. */
  ocspUrl?: string;
}

/** Which half of the pair an error is about (so a file loader can name the right file). */
export type CertificatePart = 'certificate' | 'key';

/** A certificate or key that cannot be served; `message` says what is wrong. */
export class CertificateError extends Error {
  readonly part: CertificatePart;
  constructor(message: string, part: CertificatePart) {
    super(message);
    this.name = 'CertificateError';
    this.part = part;
  }
}

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const PEM_PRIVATE_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

/** Parses and checks a certificate (chain: the first one is the leaf) and its private key at `nowMs`. */
export function inspectCertificate(certPem: string, keyPem: string, nowMs: number): CertificateInfo {
  const leaf = parseLeaf(certPem);
  const key = parseKey(keyPem);
  // Reported against the certificate: that is the file an operator names first.
  if (!leaf.checkPrivateKey(key))
    throw new CertificateError('key does not match the certificate', 'certificate');
  const notBefore = leaf.validFromDate.getTime();
  const notAfter = leaf.validToDate.getTime();
  if (notAfter <= nowMs) {
    throw new CertificateError(`certificate expired on ${leaf.validToDate.toISOString()}`, 'certificate');
  }
  if (notBefore > nowMs) {
    throw new CertificateError(
      `certificate is not valid before ${leaf.validFromDate.toISOString()}`,
      'certificate',
    );
  }
  const info: CertificateInfo = {
    hosts: certificateHosts(leaf),
    issuer: leaf.issuer,
    subject: leaf.subject,
    notBefore,
    notAfter,
    fingerprint256: leaf.fingerprint256,
    serialNumber: leaf.serialNumber.toUpperCase(),
  };
  const ocspUrl = ocspResponder(leaf.infoAccess);
  if (ocspUrl !== undefined) info.ocspUrl = ocspUrl;
  return info;
}

export interface LoadedCertificate {
  certPem: string;
  keyPem: string;
  info: CertificateInfo;
}

/**
 * Reads a certificate file and a key file and checks them (`inspectCertificate`); every error names
 * the file it is about: `tls certificate ./tls/api.crt: key does not match the certificate`.
 */
export async function loadCertificateFiles(
  certPath: string,
  keyPath: string,
  nowMs: number,
): Promise<LoadedCertificate> {
  const certPem = await readPem(certPath, 'certificate');
  const keyPem = await readPem(keyPath, 'key');
  try {
    return { certPem, keyPem, info: inspectCertificate(certPem, keyPem, nowMs) };
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err;
    const file = err.part === 'key' ? keyPath : certPath;
    const what = err.part === 'key' ? 'tls key' : 'tls certificate';
    throw new CertificateError(`${what} ${file}: ${err.message}`, err.part);
  }
}

/** Whether `host` is one of `hosts`, exactly or through a one-label `*.` wildcard; case-insensitive. */
export function coversHost(hosts: readonly string[], host: string): boolean {
  const name = normalizeHost(host);
  const dot = name.indexOf('.');
  const parent = dot > 0 ? name.slice(dot + 1) : undefined;
  for (const h of hosts) {
    const pattern = h.toLowerCase();
    if (pattern === name) return true;
    if (parent !== undefined && pattern.startsWith('*.') && pattern.slice(2) === parent) return true;
  }
  return false;
}

/** Lower-case, without the trailing dot of a fully qualified name. */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

async function readPem(file: string, part: CertificatePart): Promise<string> {
  const what = part === 'key' ? 'tls key' : 'tls certificate';
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new CertificateError(`${what} ${file}: cannot read the file (${reason})`, part);
  }
}

function parseLeaf(certPem: string): X509Certificate {
  const start = certPem.indexOf(PEM_CERTIFICATE);
  if (start < 0)
    throw new CertificateError('not a PEM certificate (no BEGIN CERTIFICATE block)', 'certificate');
  try {
    return new X509Certificate(certPem.slice(start));
  } catch (err) {
    throw new CertificateError(`unparsable certificate (${(err as Error).message})`, 'certificate');
  }
}

function parseKey(keyPem: string): KeyObject {
  if (!PEM_PRIVATE_KEY.test(keyPem)) {
    throw new CertificateError('not a PEM private key (no BEGIN PRIVATE KEY block)', 'key');
  }
  try {
    return createPrivateKey(keyPem);
  } catch (err) {
    throw new CertificateError(`unparsable private key (${(err as Error).message})`, 'key');
  }
}

function certificateHosts(leaf: X509Certificate): string[] {
  const hosts: string[] = [];
  for (const entry of splitAltNames(leaf.subjectAltName ?? '')) {
    if (entry.startsWith('DNS:')) hosts.push(entry.slice(4).toLowerCase());
  }
  if (hosts.length > 0 || leaf.subjectAltName !== undefined) return hosts;
  for (const line of leaf.subject.split('\n')) {
    if (line.startsWith('CN=')) hosts.push(line.slice(3).toLowerCase());
  }
  return hosts;
}

/**
 * Splits node's `subjectAltName` text (`DNS:a, DNS:b, IP Address:1.2.3.4`); node quotes an entry
 * that itself holds a comma or a quote as a JSON string (`DNS:"a,b"`), so those are unquoted.
 */
function splitAltNames(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const kind = text.slice(i, colon + 1);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      next = text.indexOf(', ', end);
    } else {
      next = text.indexOf(', ', colon);
      value = text.slice(colon + 1, next < 0 ? text.length : next);
    }
    out.push(kind + value);
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

function ocspResponder(infoAccess: string | undefined): string | undefined {
  if (infoAccess === undefined) return undefined;
  for (const line of infoAccess.split('\n')) {
    const m = /^OCSP - URI:(.+)$/.exec(line.trim());
    if (m) return m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1];
  }
  return undefined;
}
