/** Loading a certificate and its key from PEM files, refusing what a TLS server could not serve. */
import { createPrivateKey, X509Certificate } from 'node:crypto';

export interface CertificateInfo {
  hosts: string[];
  issuer: string;
  notBefore: number;
  notAfter: number;
}

type ReadFile = (path: string, encoding: 'utf8') => string;

export function loadCertificateFiles(
  certPath: string,
  keyPath: string,
  nowMs: number,
  read: ReadFile,
): { certPem: string; keyPem: string; info: CertificateInfo } {
  const at = `tls certificate ${certPath}`;
  let certPem: string;
  let keyPem: string;
  try {
    certPem = read(certPath, 'utf8');
  } catch (err) {
    throw new Error(`${at}: cannot read it: ${(err as Error).message}`);
  }
  try {
    keyPem = read(keyPath, 'utf8');
  } catch (err) {
    throw new Error(`${at}: cannot read the key ${keyPath}: ${(err as Error).message}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch {
    throw new Error(`${at}: not a PEM certificate`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new Error(`${at}: the key ${keyPath} is not a PEM private key`);
  }
  if (!x509.checkPrivateKey(key)) throw new Error(`${at}: the key ${keyPath} does not match the certificate`);
  const notBefore = Date.parse(x509.validFrom);
  const notAfter = Date.parse(x509.validTo);
  if (notAfter <= nowMs) throw new Error(`${at}: expired on ${x509.validTo}`);
  if (notBefore > nowMs) throw new Error(`${at}: not valid before ${x509.validFrom}`);
  const hosts = (x509.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return { certPem, keyPem, info: { hosts, issuer: x509.issuer.replace(/\n/g, ', '), notBefore, notAfter } };
}
