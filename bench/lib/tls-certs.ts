/**
 * The one certificate every TLS target serves: ECDSA P-256, self-signed, made with the real `openssl`
 * at run time (nothing secret is kept in the repository), for `bench.test` and the IP 127.0.0.1 (the
 * load generators connect to the IP; some send it as SNI, some send no SNI, the handshake loop sends
 * `bench.test`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const BENCH_SERVERNAME = 'bench.test';
/** Days the certificate is valid: longer than any run. */
const CERT_DAYS = 2;

export interface BenchCert {
  certFile: string;
  keyFile: string;
  servername: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeBenchCert(tmp: string): BenchCert {
  const dir = path.join(tmp, 'cert');
  mkdirSync(dir, { recursive: true });
  const keyFile = path.join(dir, 'bench.key');
  const certFile = path.join(dir, 'bench.crt');
  const extFile = path.join(dir, 'bench.ext');
  writeFileSync(
    extFile,
    `subjectAltName=DNS:${BENCH_SERVERNAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n`,
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  const csr = path.join(dir, 'bench.csr');
  openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${BENCH_SERVERNAME}`, '-out', csr]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-key',
    keyFile,
    '-days',
    String(CERT_DAYS),
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile, servername: BENCH_SERVERNAME };
}
