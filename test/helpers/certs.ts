/** Test certificates made with the real `openssl` CLI: a CA and leaves it signs, in a temp dir. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
}

export interface TestLeaf {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA (P-256) valid for 10 days. */
export function makeCa(dir: string, name = 'Cutover Test CA'): TestCa {
  const keyFile = path.join(dir, `${slug(name)}.key`);
  const certFile = path.join(dir, `${slug(name)}.crt`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-sha256',
      '-days',
      '10',
      '-subj',
      `/CN=${name}`,
      '-out',
      certFile,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { dir, certFile, keyFile, certPem: readFileSync(certFile, 'utf8') };
}

export interface LeafOptions {
  days?: number;
  tag?: string;
  /** The OCSP responder the certificate names (Authority Information Access). */
  ocspUrl?: string;
  /** Default `serverAuth`; `OCSPSigning` makes a delegated OCSP responder certificate. */
  extendedKeyUsage?: string;
}

/**
 * A leaf for `hosts` (DNS names; IP addresses allowed) signed by `ca`. `days` its lifetime; `tag` makes
 * the file names unique when one host gets several certificates; `ocspUrl` names an OCSP responder.
 */
export function makeLeaf(ca: TestCa, hosts: string[], opts: LeafOptions = {}): TestLeaf {
  const base = path.join(ca.dir, `${slug(hosts[0])}${opts.tag ? `-${opts.tag}` : ''}`);
  const keyFile = `${base}.key`;
  const csrFile = `${base}.csr`;
  const certFile = `${base}.crt`;
  const extFile = `${base}.ext`;
  const san = hosts.map((h) => (/^[0-9.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`)).join(',');
  const aia = opts.ocspUrl === undefined ? '' : `authorityInfoAccess=OCSP;URI:${opts.ocspUrl}\n`;
  writeFileSync(
    extFile,
    `subjectAltName=${san}\nextendedKeyUsage=${opts.extendedKeyUsage ?? 'serverAuth'}\n${aia}`,
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], ca.dir);
  openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${hosts[0]}`, '-out', csrFile], ca.dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csrFile,
      '-CA',
      ca.certFile,
      '-CAkey',
      ca.keyFile,
      '-CAcreateserial',
      '-days',
      String(opts.days ?? 5),
      '-sha256',
      '-extfile',
      extFile,
      '-out',
      certFile,
    ],
    ca.dir,
  );
  return {
    certFile,
    keyFile,
    certPem: readFileSync(certFile, 'utf8'),
    keyPem: readFileSync(keyFile, 'utf8'),
  };
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, '_');
}
