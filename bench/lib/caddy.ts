/** Caddy (Debian `caddy` 2.6) as an HTTPS reverse proxy, for the TLS rows of the benchmark. */

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './procs.ts';
import { type Env, type Running, waitHttpOk, which } from './targets.ts';
import type { BenchCert } from './tls-certs.ts';

/** Idle upstream connections Caddy keeps, like nginx's `keepalive 64` (Caddy's default is 32). */
const UPSTREAM_IDLE_CONNS = 64;

/**
 * Caddy proxying to the upstream over HTTP/1.1 keep-alive on a plain-HTTP port (h1) and, with `cert`, on an
 * HTTPS port serving the benchmark certificate (HTTP/1.1 and h2 by ALPN; h3 off: the load is TCP only).
 * GOMAXPROCS = workers, the Go counterpart of nginx `worker_processes` and the gateway's `workers`. Admin
 * API off, no access log, automatic HTTPS off (it would try to obtain certificates), state kept in the temp
 * prefix.
 */
export async function startCaddy(env: Env, upstreamPort: number, cert?: BenchCert): Promise<Running> {
  const dir = path.join(env.tmp, 'caddy');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const tlsPort = cert ? await freePort() : 0;
  const routes = [
    {
      handle: [
        {
          handler: 'reverse_proxy',
          upstreams: [{ dial: `127.0.0.1:${upstreamPort}` }],
          transport: {
            protocol: 'http',
            keep_alive: { enabled: true, max_idle_conns_per_host: UPSTREAM_IDLE_CONNS },
          },
        },
      ],
    },
  ];
  const servers: Record<string, unknown> = {
    plain: {
      listen: [`127.0.0.1:${port}`],
      protocols: ['h1'],
      automatic_https: { disable: true },
      routes,
    },
  };
  if (cert) {
    servers.bench = {
      listen: [`127.0.0.1:${tlsPort}`],
      protocols: ['h1', 'h2'],
      automatic_https: { disable: true },
      // Clients that send no SNI get this name's certificate (the IP SAN serves the others).
      tls_connection_policies: [{ default_sni: cert.servername }],
      routes,
    };
  }
  const config = {
    admin: { disabled: true },
    logging: { logs: { default: { level: 'ERROR' } } },
    storage: { module: 'file_system', root: path.join(dir, 'data') },
    apps: {
      ...(cert
        ? { tls: { certificates: { load_files: [{ certificate: cert.certFile, key: cert.keyFile }] } } }
        : {}),
      http: { servers },
    },
  };
  const configFile = path.join(dir, 'caddy.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const logFile = path.join(dir, 'stderr.log');
  const proc = env.procs.start('caddy', which('caddy') ?? 'caddy', ['run', '--config', configFile], {
    env: {
      ...process.env,
      GOMAXPROCS: String(env.workers),
      HOME: dir,
      XDG_DATA_HOME: path.join(dir, 'data'),
      XDG_CONFIG_HOME: path.join(dir, 'config'),
    },
    logFile,
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitHttpOk(url, proc);
  if (!cert) return { url, port, proc };
  const tlsUrl = `https://127.0.0.1:${tlsPort}/`;
  await waitHttpOk(tlsUrl, proc);
  return { url, port, proc, tlsUrl };
}
