import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { Cluster } from './helpers/cluster.ts';

test('control API over HTTPS: the CLI trusts the configured certificate; plain HTTP gets nothing', {
  timeout: 60_000,
}, async (t) => {
  const c = new Cluster();
  t.after(async () => {
    await Promise.race([c.stop(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    c.destroy();
  });
  // Given a self-signed certificate for 127.0.0.1
  const cert = path.join(c.dir, 'control.crt');
  const key = path.join(c.dir, 'control.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  // When cutover up serves its control API with it
  await c.up({ replicas: 1, controlTls: { cert, key } });
  // Then the CLI (finding https and the CA from the config) works
  const s = await c.cli(['status', 'web', '--json', '-c', c.configFile]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).name, 'web');
  const d = await c.cli(['deploy', 'web', '--version', 'v2', '--wait', '-c', c.configFile]);
  assert.equal(d.code, 0, d.stderr);
  // And a plain-HTTP client gets no API answer
  const plain = await new Promise<string>((resolve) => {
    http
      .get({ host: '127.0.0.1', port: c.controlPort, path: '/healthz', agent: false }, (res) =>
        resolve(`status ${res.statusCode}`),
      )
      .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  assert.doesNotMatch(plain, /status 200/);
});
