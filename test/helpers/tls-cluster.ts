/**
 * A test cluster serving HTTPS: a CA and a leaf for `web.test` made with openssl in the cluster's dir,
 * copied to fixed paths the config names (so a test can replace them on disk), and loads over TLS bound
 * to the cluster (stopped by its destroy()).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from './certs.ts';
import type { Cluster, ClusterOptions } from './cluster.ts';
import { type H2LoadOptions, startH2Load } from './h2-load.ts';
import { type HttpsLoadOptions, startHttpsLoad } from './https-load.ts';

/** The host name the certificates are for (SNI and :authority of every TLS client here). */
export const WEB_HOST = 'web.test';

export interface TlsFixture {
  ca: TestCa;
  /** The leaf the cluster started with. */
  leaf: TestLeaf;
  /** The files the config names. */
  certFile: string;
  keyFile: string;
}

/** Makes the CA and the first leaf, and puts the leaf where the config will look. */
export function tlsFixture(c: Cluster): TlsFixture {
  const pki = path.join(c.dir, 'pki');
  const live = path.join(c.dir, 'tls');
  mkdirSync(pki, { recursive: true });
  mkdirSync(live, { recursive: true });
  const ca = makeCa(pki);
  const leaf = makeLeaf(ca, [WEB_HOST], { tag: 'first' });
  const certFile = path.join(live, 'web.crt');
  const keyFile = path.join(live, 'web.key');
  copyFileSync(leaf.certFile, certFile);
  copyFileSync(leaf.keyFile, keyFile);
  return { ca, leaf, certFile, keyFile };
}

/** `cutover up` with the gateway serving HTTPS (fixture's files) on a free port; returns the fixture. */
export async function upWithTls(c: Cluster, o: ClusterOptions = {}): Promise<TlsFixture> {
  const f = tlsFixture(c);
  await c.up({
    ...o,
    gatewayTls: { certificates: [{ hosts: [WEB_HOST], cert: f.certFile, key: f.keyFile }] },
  });
  if (c.tlsPort === 0) throw new Error('the gateway reports no tlsPort after up');
  return f;
}

/** HTTP/2-over-TLS load through the cluster's HTTPS port. */
export function h2LoadOn(c: Cluster, f: TlsFixture, o: Partial<H2LoadOptions> = {}) {
  return c.track(startH2Load({ port: c.tlsPort, servername: WEB_HOST, ca: f.ca.certPem, ...o }));
}

/** HTTPS/1.1 load through the cluster's HTTPS port. */
export function httpsLoadOn(c: Cluster, f: TlsFixture, o: Partial<HttpsLoadOptions> = {}) {
  return c.track(startHttpsLoad({ port: c.tlsPort, servername: WEB_HOST, ca: f.ca.certPem, ...o }));
}

/** The control API's /metrics (Prometheus text), read with the admin token. */
export function controlMetrics(c: Cluster): Promise<string> {
  return new Promise((resolve, reject) => {
    const token = c.adminToken();
    http
      .get(
        {
          host: '127.0.0.1',
          port: c.controlPort,
          path: '/metrics',
          agent: false,
          headers: token ? { authorization: `Bearer ${token}` } : {},
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (x: string) => (text += x));
          res.on('end', () =>
            res.statusCode === 200 ? resolve(text) : reject(new Error(`/metrics: ${res.statusCode} ${text}`)),
          );
        },
      )
      .on('error', reject);
  });
}

/** Sum of `cutover_requests_total` of service web (one revision, or all when undefined). */
export async function requestsCounted(c: Cluster, revision?: number): Promise<number> {
  const text = await controlMetrics(c);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('cutover_requests_total{')) continue;
    if (!line.includes('service="web"')) continue;
    if (revision !== undefined && !line.includes(`revision="${revision}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
