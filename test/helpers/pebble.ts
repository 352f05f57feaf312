/**
 * A real ACME CA for tests: pebble (Debian package `pebble`) with pebble-challtestsrv as its DNS
 * server (every name resolves to 127.0.0.1), on free loopback ports. pebble's own HTTPS listener gets
 * a throw-away CA and leaf made with openssl in a temp dir; HTTP-01 validation connects to
 * 127.0.0.1:`httpPort`, where the test's challenge responder listens. Both processes run in their own
 * process groups, and `stop()` kills them and removes the dir.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, freePorts } from '../../src/runtime/ports.ts';
import { spawnGroup, terminateGroup } from '../../src/runtime/process-group.ts';
import { sleep } from '../../src/util/sleep.ts';

export const PEBBLE_BIN = process.env.PEBBLE_BIN ?? '/usr/bin/pebble';
export const CHALLTESTSRV_BIN = process.env.PEBBLE_CHALLTESTSRV_BIN ?? '/usr/bin/pebble-challtestsrv';
const READY_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 50;
const STOP_GRACE_MS = 3000;

const run = promisify(execFile);

export interface Pebble {
  /** `https://127.0.0.1:<port>/dir` */
  directoryUrl: string;
  /** `https://127.0.0.1:<port>` of pebble's management API. */
  managementUrl: string;
  /** The CA of pebble's own HTTPS listener (trust it for the ACME requests only). */
  caCertPem: string;
  /** The root that signs the certificates pebble issues (from its management API). */
  rootsPem(): Promise<string>;
  /** Makes the DNS answer `ip` for `host` (challtestsrv's management API): validation then goes there. */
  pointHost(host: string, ip: string): Promise<void>;
  /** Both processes' output so far (for failure messages). */
  output(): string;
  /** Kills both processes, waits for them to exit, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** The port pebble's HTTP-01 validation connects to on 127.0.0.1. */
  httpPort: number;
  /** Extra environment for pebble, e.g. `{ PEBBLE_AUTHZREUSE: '100' }`. */
  env?: Record<string, string>;
}

/** Starts challtestsrv and pebble; resolves once the ACME directory answers. */
export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-pebble-'));
  const stops: Array<() => Promise<void>> = [];
  let out = '';
  const stop = async (): Promise<void> => {
    const pending = stops.splice(0);
    for (const s of pending.reverse()) await s();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tls = await makeListenerCertificate(dir);
    const dnsPort = await freeUdpAndTcpPort();
    let ports = await freePorts(4);
    // The DNS port's probe sockets are closed again: it may come back among the four.
    while (ports.includes(dnsPort)) ports = await freePorts(4);
    const [dnsManagementPort, listenPort, managementPort, tlsPort] = ports;

    const dns = spawnProcess(
      CHALLTESTSRV_BIN,
      [
        '-defaultIPv4',
        '127.0.0.1',
        // No AAAA answers: the responder listens on 127.0.0.1 only.
        '-defaultIPv6',
        '',
        '-dns01',
        `127.0.0.1:${dnsPort}`,
        '-management',
        `127.0.0.1:${dnsManagementPort}`,
        // Its own challenge servers are not used: the test's responder answers HTTP-01.
        '-http01',
        '',
        '-https01',
        '',
        '-tlsalpn01',
        '',
      ],
      {},
      (chunk) => {
        out += `[challtestsrv] ${chunk}`;
      },
    );
    stops.push(dns.stop);
    await waitUntil(
      async () => (await httpStatus(`http://127.0.0.1:${dnsManagementPort}/`)) > 0,
      dns.failed,
      'pebble-challtestsrv management port',
      () => out,
    );

    const config = path.join(dir, 'pebble-config.json');
    writeFileSync(
      config,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${listenPort}`,
          managementListenAddress: `127.0.0.1:${managementPort}`,
          certificate: tls.certFile,
          privateKey: tls.keyFile,
          httpPort: opts.httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    const pebble = spawnProcess(
      PEBBLE_BIN,
      ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`],
      {
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        // Deterministic tests: every order validates its own challenge instead of half of them
        // reusing an earlier authorization.
        PEBBLE_AUTHZREUSE: '0',
        ...opts.env,
      },
      (chunk) => {
        out += `[pebble] ${chunk}`;
      },
    );
    stops.push(pebble.stop);
    const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
    await waitUntil(
      async () => (await httpStatus(directoryUrl, tls.caPem)) === 200,
      pebble.failed,
      'pebble ACME directory',
      () => out,
    );
    return {
      directoryUrl,
      managementUrl: `https://127.0.0.1:${managementPort}`,
      caCertPem: tls.caPem,
      rootsPem: () => httpsText(`https://127.0.0.1:${managementPort}/roots/0`, tls.caPem),
      pointHost: (host: string, ip: string) =>
        postJson(`http://127.0.0.1:${dnsManagementPort}/add-a`, { host: `${host}.`, addresses: [ip] }),
      output: () => out,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface ListenerCertificate {
  caPem: string;
  certFile: string;
  keyFile: string;
}

/** A CA and a leaf for 127.0.0.1 / localhost, valid for two days. */
async function makeListenerCertificate(dir: string): Promise<ListenerCertificate> {
  const f = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt')].concat([
      '-days',
      '2',
      '-subj',
      '/CN=cutover test pebble listener CA',
    ]),
  );
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    f('leaf.key'),
    '-out',
    f('leaf.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(f('leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('leaf.ext'),
    '-out',
    f('leaf.crt'),
  ]);
  return { caPem: readFileSync(f('ca.crt'), 'utf8'), certFile: f('leaf.crt'), keyFile: f('leaf.key') };
}

interface Spawned {
  /** The reason the process is gone, or undefined while it runs. */
  failed: () => string | undefined;
  stop: () => Promise<void>;
}

function spawnProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  onOutput: (chunk: string) => void,
): Spawned {
  const child = spawnGroup(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let failure: string | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (e) => {
    failure = `${command}: ${e.message}`;
  });
  child.once('exit', (code, signal) => {
    failure ??= `${command} exited (${signal ?? code})`;
  });
  child.stdout?.on('data', (c: Buffer) => onOutput(c.toString()));
  child.stderr?.on('data', (c: Buffer) => onOutput(c.toString()));
  return {
    failed: () => failure,
    stop: async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        await terminateGroup(child.pid, { graceMs: STOP_GRACE_MS, reapMs: 1000, leaderExited: exited });
      }
    },
  };
}

async function waitUntil(
  ready: () => Promise<boolean>,
  failed: () => string | undefined,
  what: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const failure = failed();
    if (failure !== undefined) throw new Error(`${what}: ${failure}\n${output()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output()}`);
    await sleep(READY_POLL_MS);
  }
}

/** A port free for both UDP and TCP on 127.0.0.1 (the DNS server binds both). */
async function freeUdpAndTcpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = createSocket('udp4');
      sock.once('error', () => {
        sock.close();
        resolve(false);
      });
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no port free for both UDP and TCP');
}

function httpStatus(url: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { agent: false, timeout: 2000, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

function httpsText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent: false, timeout: 5000, ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${url}: ${res.statusCode} ${text}`)),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

function postJson(url: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`${url} answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
