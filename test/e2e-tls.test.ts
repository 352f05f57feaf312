/**
 * The gateway's HTTPS listener through a real `cutover up`: HTTPS/1.1 and wss:// through a rolling release,
 * certificate rotation by `cutover reload` under h1 and h2 load, and broken certificate files refused.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { makeLeaf } from './helpers/certs.ts';
import { type Cluster, useCluster } from './helpers/cluster.ts';
import type { GatewayHealth } from './helpers/gateway-process.ts';
import type { LoadReport } from './helpers/load.ts';
import { h2LoadOn, httpsLoadOn, type TlsFixture, upWithTls, WEB_HOST } from './helpers/tls-cluster.ts';
import type { HandshakeLedger } from './helpers/tls-handshakes.ts';
import { fingerprintOf } from './helpers/tls-handshakes.ts';
import { waitFor } from './helpers/wait.ts';

function describeLoad(name: string, r: LoadReport, h: HandshakeLedger): string {
  return `${name}: ${r.ok}/${r.sent} ok, ${r.failed} failed, ${h.completed} handshakes (${h.resumed} resumed, ${h.failures.length} failed); ${r.failures.slice(0, 5).join(' | ')}`;
}

/** Four loads at once: HTTPS/1.1 and HTTP/2, each over keep-alive connections and a new one per request. */
function tlsLoads(c: Cluster, f: TlsFixture) {
  return {
    'h1 keep-alive': httpsLoadOn(c, f, { concurrency: 3, pauseMs: 2 }),
    'h1 new connections': httpsLoadOn(c, f, { concurrency: 2, pauseMs: 5, newConnectionEach: true }),
    'h2 keep-alive': h2LoadOn(c, f, { sessions: 1, streams: 3, pauseMs: 2 }),
    'h2 new connections': h2LoadOn(c, f, { sessions: 2, streams: 1, pauseMs: 5, newConnectionEach: true }),
  };
}
type TlsLoads = ReturnType<typeof tlsLoads>;

async function moreOfEach(loads: TlsLoads, n: number, what: string): Promise<void> {
  await Promise.all(Object.entries(loads).map(([name, l]) => l.more(n, `${n} ${name} ${what}`)));
}

/** Handshakes of the new-connection loads started after `marks`, by served fingerprint. */
function servedSince(loads: TlsLoads, marks: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of ['h1 new connections', 'h2 new connections'] as const) {
    for (const [fp, n] of Object.entries(loads[name].handshakes.since(marks[name])))
      out[fp] = (out[fp] ?? 0) + n;
  }
  return out;
}

function marksOf(loads: TlsLoads): Record<string, number> {
  return Object.fromEntries(Object.entries(loads).map(([name, l]) => [name, l.handshakes.mark()]));
}

/** Stops every load and checks: something was served, nothing failed, every handshake completed. */
async function stopAndCheck(loads: TlsLoads, diag: (s: string) => void): Promise<void> {
  for (const [name, l] of Object.entries(loads)) {
    const r = await l.stop();
    diag(describeLoad(name, r, l.handshakes));
    assert.ok(r.ok > 0, `${name} ran`);
    assert.equal(r.failed, 0, describeLoad(name, r, l.handshakes));
    assert.deepEqual(l.handshakes.failures, [], `${name} handshake failures`);
    assert.ok(l.handshakes.completed > 0, `${name} made handshakes`);
  }
}

/** Replaces the files the config names (certificate and key) with these. */
function install(f: TlsFixture, cert: string, key: string): void {
  copyFileSync(cert, f.certFile);
  copyFileSync(key, f.keyFile);
}

describe('the HTTPS listener end to end', { timeout: 150_000 }, () => {
  test('rolling release under HTTPS/1.1 keep-alive load with a wss:// client: 0 failed requests, the WebSocket gets 1001 and reconnects to v2', async (t) => {
    // Given v1 behind HTTPS, keep-alive HTTPS/1.1 load, and a WebSocket over TLS
    const c = useCluster(t);
    const f = await upWithTls(c, { replicas: 2 });
    const load = httpsLoadOn(c, f, { concurrency: 6 });
    const wssOptions = { ca: f.ca.certPem, servername: WEB_HOST, headers: { host: WEB_HOST } };
    const ws = new WebSocket(`wss://127.0.0.1:${c.tlsPort}/ws`, wssOptions);
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(String(m)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    ws.send('ping');
    await waitFor(() => messages.some((m) => m.includes('v1:ping')), 10_000, 'echo from v1 over wss');
    await waitFor(() => (load.report.versions.v1 ?? 0) >= 10, 20_000, '10 HTTPS responses from v1');

    // When v2 rolls out
    const r = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(() => (load.report.versions.v2 ?? 0) >= 10, 20_000, '10 HTTPS responses from v2');
    const report = await load.stop();
    t.diagnostic(describeLoad('HTTPS/1.1 keep-alive through a rolling release', report, load.handshakes));

    // Then no request failed, over few connections (keep-alive), and both versions answered
    assert.equal(report.failed, 0, report.failures.join(' | '));
    assert.ok(
      (report.versions.v1 ?? 0) > 0 && (report.versions.v2 ?? 0) > 0,
      JSON.stringify(report.versions),
    );
    assert.deepEqual(load.handshakes.failures, []);
    assert.ok(
      load.handshakes.completed < report.ok / 10,
      `keep-alive: ${load.handshakes.completed} handshakes`,
    );

    // And the wss:// client was closed cleanly with 1001 when its v1 instance drained; a reconnect gets v2
    assert.equal((await closed).code, 1001);
    const ws2 = new WebSocket(`wss://127.0.0.1:${c.tlsPort}/ws`, wssOptions);
    const hello = await new Promise<string>((resolve, reject) => {
      ws2.once('message', (m) => resolve(String(m)));
      ws2.once('error', reject);
    });
    ws2.close();
    assert.match(hello, /"version":"v2"/);
  });

  test('certificate rotation by cutover reload under h1 and h2 TLS load: every new handshake gets the new certificate, 0 failures, 0 handshake failures', async (t) => {
    // Given HTTPS/1.1 and HTTP/2 load, over keep-alive connections and a new connection per request
    const c = useCluster(t);
    const f = await upWithTls(c, { replicas: 1 });
    const oldFp = fingerprintOf(f.leaf.certPem);
    const loads = tlsLoads(c, f);
    await moreOfEach(loads, 20, 'before the rotation');
    assert.deepEqual(Object.keys(servedSince(loads, { 'h1 new connections': 0, 'h2 new connections': 0 })), [
      oldFp,
    ]);

    // When a new certificate and key replace the files on disk and the gateway reloads
    const next = makeLeaf(f.ca, [WEB_HOST], { tag: 'second' });
    const newFp = fingerprintOf(next.certPem);
    assert.notEqual(newFp, oldFp);
    install(f, next.certFile, next.keyFile);
    const r = await c.cli(['reload']);
    assert.equal(r.code, 0, `stdout=${r.stdout} stderr=${r.stderr}`);
    const marks = marksOf(loads);
    await moreOfEach(loads, 20, 'after the rotation');

    // Then every handshake started after the reload answered got the new certificate
    const after = servedSince(loads, marks);
    assert.deepEqual(Object.keys(after), [newFp], JSON.stringify(after));
    assert.ok((after[newFp] ?? 0) >= 20, JSON.stringify(after));
    // And nothing failed, on old connections or new ones
    await stopAndCheck(loads, (s) => t.diagnostic(s));
  });

  test('a broken certificate file is refused on reload with a clear error; the old certificate keeps serving, nothing dropped', async (t) => {
    // Given TLS load on v1
    const c = useCluster(t);
    const f = await upWithTls(c, { replicas: 1 });
    const oldFp = fingerprintOf(f.leaf.certPem);
    const loads = tlsLoads(c, f);
    await moreOfEach(loads, 10, 'before the broken reloads');
    const master = (await c.gatewayAdmin<GatewayHealth>('/healthz')).pid;

    // When the certificate file is replaced by a new certificate whose key was not installed (key mismatch)
    const other = makeLeaf(f.ca, [WEB_HOST], { tag: 'other' });
    copyFileSync(other.certFile, f.certFile);
    const mismatch = await c.cli(['reload']);
    let marks = marksOf(loads);
    await moreOfEach(loads, 10, 'after the key-mismatch reload');

    // Then the reload says so (exit 1, which file, why), the log too, and the old certificate still serves
    assert.equal(mismatch.code, 1, `stdout=${mismatch.stdout} stderr=${mismatch.stderr}`);
    assert.match(mismatch.stderr, /certificate refused; the one loaded before stays in force/);
    assert.ok(mismatch.stderr.includes(f.certFile), mismatch.stderr);
    assert.match(mismatch.stderr, /does not match the certificate/);
    assert.deepEqual(Object.keys(servedSince(loads, marks)), [oldFp]);

    // When the certificate file is not PEM at all
    writeFileSync(f.certFile, 'this is not a certificate\n');
    const garbage = await c.cli(['reload', '--json']);
    marks = marksOf(loads);
    await moreOfEach(loads, 10, 'after the garbage reload');
    assert.equal(garbage.code, 1, garbage.stderr);
    const errors = (JSON.parse(garbage.stdout) as { certificateErrors?: string[] }).certificateErrors ?? [];
    assert.equal(errors.length, 1, garbage.stdout);
    assert.ok(errors[0].startsWith(`tls certificate ${f.certFile}: not a PEM certificate`), errors[0]);
    assert.deepEqual(Object.keys(servedSince(loads, marks)), [oldFp]);

    // When the master is re-executed with the broken file: the new master does not start, the old one serves
    const reexecStarted = Date.now();
    const reexec = await c.cli(['reload', '--master']);
    t.diagnostic(
      `refused master re-exec answered after ${Date.now() - reexecStarted} ms: ${reexec.stderr.trim()}`,
    );
    assert.notEqual(reexec.code, 0, reexec.stdout);
    assert.equal((await c.gatewayAdmin<GatewayHealth>('/healthz')).pid, master);
    await moreOfEach(loads, 10, 'after the refused master re-exec');

    // And the gateway log names the refusals
    const log = readFileSync(path.join(c.dir, 'data', 'logs', 'gateway.log'), 'utf8');
    assert.match(
      log,
      /certificate refused; the one loaded before stays in force.*does not match the certificate/,
    );
    assert.match(log, /certificate refused; the one loaded before stays in force.*not a PEM certificate/);

    // When good files come back, the reload takes them
    install(f, other.certFile, other.keyFile);
    const good = await c.cli(['reload']);
    assert.equal(good.code, 0, good.stderr);
    marks = marksOf(loads);
    await moreOfEach(loads, 10, 'after the good reload');
    assert.deepEqual(Object.keys(servedSince(loads, marks)), [fingerprintOf(other.certPem)]);
    await stopAndCheck(loads, (s) => t.diagnostic(s));
  });
});
