/**
 * A real OCSP responder for tests: `openssl ocsp` serving an openssl CA database (index.txt) in the CA's
 * directory, on a free port it picks itself. Certificates are entered with `openssl ca -valid` and revoked
 * with `openssl ca -revoke`. The responder re-reads a changed index only after answering the next request
 * (with the old one), so each change is followed by queries until the responder says what it should.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import type { TestCa, TestLeaf } from './certs.ts';
import { waitFor } from './wait.ts';

export interface OcspResponder {
  url: string;
  /** Enters a certificate as valid; resolves once the responder answers `good`. */
  markValid(leaf: TestLeaf): Promise<void>;
  /** Revokes a certificate; resolves once the responder answers `revoked`. */
  revoke(leaf: TestLeaf): Promise<void>;
  child: ChildProcess;
}

/** The openssl CA database of `ca` (index.txt), with the `openssl ca` commands that change it. */
export interface CaDatabase {
  index: string;
  add(leaf: TestLeaf): void;
  revoke(leaf: TestLeaf): void;
}

export function caDatabase(ca: TestCa): CaDatabase {
  const index = path.join(ca.dir, 'index.txt');
  const config = path.join(ca.dir, 'ca.cnf');
  writeFileSync(index, '');
  writeFileSync(
    config,
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      `database = ${index}`,
      `new_certs_dir = ${ca.dir}`,
      `certificate = ${ca.certFile}`,
      `private_key = ${ca.keyFile}`,
      'default_md = sha256',
      'unique_subject = no',
      'policy = any',
      '[ any ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const run = (args: string[], leaf: TestLeaf) =>
    execFileSync('openssl', ['ca', '-config', config, ...args, leaf.certFile], {
      cwd: ca.dir,
      stdio: 'pipe',
    });
  return { index, add: (leaf) => run(['-valid'], leaf), revoke: (leaf) => run(['-revoke'], leaf) };
}

/**
 * `openssl ocsp` answering one DER request from `db` (no server), signed by `signer` (default: the CA
 * itself). `extra`: more responder options.
 */
export function answerOnce(
  ca: TestCa,
  db: CaDatabase,
  request: Buffer,
  signer: { certFile: string; keyFile: string } = ca,
  extra: string[] = [],
): Buffer {
  const base = path.join(ca.dir, `once-${Date.now()}-${Math.random()}`);
  writeFileSync(`${base}.req`, request);
  const args = ['-index', db.index, '-CA', ca.certFile, '-rsigner', signer.certFile, '-rkey', signer.keyFile];
  execFileSync(
    'openssl',
    ['ocsp', ...args, '-ndays', '1', '-reqin', `${base}.req`, '-respout', `${base}.resp`, ...extra],
    { cwd: ca.dir, stdio: 'pipe' },
  );
  return readFileSync(`${base}.resp`);
}

export async function startOcspResponder(t: TestContext, ca: TestCa): Promise<OcspResponder> {
  const db = caDatabase(ca);
  const child = spawn(
    'openssl',
    [
      'ocsp',
      '-port',
      '0',
      '-index',
      db.index,
      '-CA',
      ca.certFile,
      '-rkey',
      ca.keyFile,
      '-rsigner',
      ca.certFile,
      '-ndays',
      '1',
      '-ignore_err',
    ],
    { cwd: ca.dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  await waitFor(() => /ACCEPT \S+:\d+/.test(out), 10_000, `openssl ocsp listening; output: ${out}`);
  const port = Number(/ACCEPT \S+:(\d+)/.exec(out)![1]);
  const url = `http://127.0.0.1:${port}`;
  const change = async (leaf: TestLeaf, edit: (leaf: TestLeaf) => void, status: string) => {
    edit(leaf);
    await waitFor(() => queryStatus(url, ca, leaf) === status, 10_000, `the responder answering ${status}`);
  };
  return {
    url,
    markValid: (leaf) => change(leaf, db.add, 'good'),
    revoke: (leaf) => change(leaf, db.revoke, 'revoked'),
    child,
  };
}

/** What the responder says about `leaf`, asked with the openssl client. */
function queryStatus(url: string, ca: TestCa, leaf: TestLeaf): string {
  const out = execFileSync(
    'openssl',
    ['ocsp', '-issuer', ca.certFile, '-cert', leaf.certFile, '-url', url, '-CAfile', ca.certFile],
    { cwd: ca.dir, stdio: 'pipe' },
  ).toString();
  return /: (good|revoked|unknown)\b/.exec(out)?.[1] ?? out;
}

/** What `openssl ocsp` reads in a DER response, unverified: the status (`good`, ...) and the serial (hex). */
export function ocspSummary(dir: string, der: Buffer): { status: string; serial: string } {
  const file = path.join(dir, `staple-${Date.now()}-${Math.random()}.der`);
  writeFileSync(file, der);
  const text = execFileSync('openssl', ['ocsp', '-respin', file, '-resp_text', '-noverify'], {
    stdio: 'pipe',
  }).toString();
  return {
    status: /Cert Status: (\w+)/.exec(text)?.[1] ?? `no status in:\n${text}`,
    serial: /Serial Number: ([0-9A-F]+)/.exec(text)?.[1] ?? `no serial in:\n${text}`,
  };
}

/**
 * A TLS handshake that asks for the certificate status: the stapled response, or null when none came.
 * `servername` '' sends no SNI.
 */
export function handshakeStaple(
  port: number,
  servername: string,
  caPem: string,
  maxVersion: tls.SecureVersion = 'TLSv1.3',
): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    let staple: Buffer | null = null;
    const socket = tls.connect({
      port,
      host: '127.0.0.1',
      servername,
      ca: caPem,
      requestOCSP: true,
      maxVersion,
      // No server name (''): no SNI, and the default certificate cannot match 127.0.0.1.
      ...(servername === '' ? { checkServerIdentity: () => undefined } : {}),
    });
    socket.on('OCSPResponse', (response: Buffer | null) => {
      staple = response !== null && response.length > 0 ? response : null;
    });
    socket.once('secureConnect', () => {
      socket.end();
      resolve(staple);
    });
    socket.once('error', reject);
  });
}
