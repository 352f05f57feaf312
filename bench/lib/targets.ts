/** Starting the benchmark's upstream and the three reverse proxies in a temp prefix. */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { freePort, type Managed, type Procs, sleep, tailOf } from './procs.ts';
import { BENCH_SERVERNAME, type BenchCert } from './tls-certs.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const GATEWAY_MAIN = path.join(REPO_ROOT, 'src', 'gateway', 'main.ts');

export interface Running {
  /** URL the load generators hit. */
  url: string;
  port: number;
  proc: Managed;
  /** The HTTPS URL, when the target was started with a certificate. */
  tlsUrl?: string;
  /** The upstream's second port (the same server), for the policy rows' two-instance pools. */
  altPort?: number;
}

export interface Env {
  procs: Procs;
  tmp: string;
  workers: number;
}

/** Returns the absolute path of a command on PATH (or in /usr/sbin), or null. */
export function which(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return null;
}

export function versionOf(cmd: string, args: string[]): string {
  // nginx -v prints on stderr; wrk -v exits 1: take the first line of either stream.
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0].trim();
}

/** GET `url` (http or https) until it answers 200 (the proxies answer 502/503 until their upstream is reachable). */
export async function waitHttpOk(url: string, proc: Managed, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | null = null;
  void proc.exited.then((c) => {
    exited = c;
  });
  let last = '';
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new Error(`${proc.name} exited (${exited}) before serving: ${tailOf(proc.logFile)}`);
    }
    try {
      const { status, body } = await get(url);
      if (status === 200 && body === 'ok') return;
      last = `status ${status} body ${JSON.stringify(body.slice(0, 200))}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`${proc.name} not serving ${url} after ${timeoutMs} ms (${last}): ${tailOf(proc.logFile)}`);
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        body += s;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    };
    // The benchmark certificate is self-signed: whether the target serves at all is what counts here.
    // SNI as a browser would send it (Node sends none to an IP address).
    const tlsOpts = { rejectUnauthorized: false, servername: BENCH_SERVERNAME };
    const req = url.startsWith('https:')
      ? https.get(url, { agent: false, timeout: 2000, ...tlsOpts }, onResponse)
      : http.get(url, { agent: false, timeout: 2000 }, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export function nginxCommon(workers: number, prefix: string): string {
  return `worker_processes ${workers};
worker_rlimit_nofile 65535;
events { worker_connections 8192; multi_accept on; }
`.concat(`http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
`);
}

export function startNginx(env: Env, name: string, conf: string): Managed {
  const prefix = path.join(env.tmp, name);
  mkdirSync(prefix, { recursive: true });
  const confFile = path.join(prefix, 'nginx.conf');
  writeFileSync(confFile, conf);
  const errorLog = path.join(prefix, 'error.log');
  return env.procs.start(
    name,
    which('nginx') ?? 'nginx',
    [
      '-p',
      prefix,
      '-e',
      errorLog,
      '-c',
      confFile,
      '-g',
      `daemon off; pid ${prefix}/nginx.pid; error_log ${errorLog} warn;`,
    ],
    { logFile: path.join(prefix, 'stdio.log') },
  );
}

export function nginxPrefix(env: Env, name: string): string {
  return path.join(env.tmp, name);
}

/** nginx answering `200 ok` itself: the upstream of every target. */
export async function startUpstreamNginx(env: Env, workers: number): Promise<Running> {
  const port = await freePort();
  const altPort = await freePort();
  const conf = `${nginxCommon(workers, nginxPrefix(env, 'upstream'))}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    listen 127.0.0.1:${altPort} backlog=4096;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
`;
  const proc = startNginx(env, 'upstream', conf);
  const url = `http://127.0.0.1:${port}/`;
  await waitHttpOk(url, { ...proc, logFile: path.join(nginxPrefix(env, 'upstream'), 'error.log') });
  return { url, port, proc, altPort };
}

/** Fallback upstream when nginx is missing (see bench/upstream.ts). */
export async function startUpstreamNode(env: Env, workers: number): Promise<Running> {
  const port = await freePort();
  const logFile = path.join(env.tmp, 'upstream-node.log');
  const proc = env.procs.start(
    'upstream',
    process.execPath,
    [path.join(REPO_ROOT, 'bench', 'upstream.ts'), '--port', String(port), '--workers', String(workers)],
    { logFile },
  );
  const url = `http://127.0.0.1:${port}/`;
  await waitHttpOk(url, proc);
  return { url, port, proc };
}

/** nginx as the proxy; with `cert` also an HTTPS server (HTTP/1.1 and h2 by ALPN) on a second port. */
export async function startNginxProxy(env: Env, upstreamPort: number, cert?: BenchCert): Promise<Running> {
  const port = await freePort();
  const tlsPort = cert ? await freePort() : 0;
  const location = `location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }`;
  // TLS 1.2 and 1.3 like Cutover and Caddy (nginx 1.22's default has no 1.3); nginx's defaults otherwise
  // (ciphers, session tickets), as an operator would leave them.
  const tlsServer = cert
    ? `
  server {
    listen 127.0.0.1:${tlsPort} ssl http2 backlog=4096;
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ${location}
  }`
    : '';
  const conf = `${nginxCommon(env.workers, nginxPrefix(env, 'nginx'))}
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    ${location}
  }${tlsServer}
}
`;
  const proc = startNginx(env, 'nginx', conf);
  const url = `http://127.0.0.1:${port}/`;
  const withLog = { ...proc, logFile: path.join(nginxPrefix(env, 'nginx'), 'error.log') };
  await waitHttpOk(url, withLog);
  if (!cert) return { url, port, proc };
  const tlsUrl = `https://127.0.0.1:${tlsPort}/`;
  await waitHttpOk(tlsUrl, withLog);
  return { url, port, proc, tlsUrl };
}

export async function startHaproxy(env: Env, upstreamPort: number): Promise<Running> {
  const port = await freePort();
  const dir = path.join(env.tmp, 'haproxy');
  mkdirSync(dir, { recursive: true });
  const confFile = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    confFile,
    `global
  nbthread ${env.workers}
  # Far above the load's 64 connections, and within a 20k FD limit (haproxy needs ~2 FDs per conn).
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 75s
  timeout server 30s
  timeout http-keep-alive 75s

frontend fe
  bind 127.0.0.1:${port}
  default_backend be

backend be
  server up1 127.0.0.1:${upstreamPort}
`,
  );
  const logFile = path.join(dir, 'stdio.log');
  // -db: stay in the foreground; -W would add a master process we do not need.
  const proc = env.procs.start('haproxy', which('haproxy') ?? 'haproxy', ['-db', '-f', confFile], {
    logFile,
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitHttpOk(url, proc);
  return { url, port, proc };
}
