// biome-ignore-all lint/suspicious/noTemplateCurlyInString: tests use literal ${NAME} placeholders
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig } from './diff.ts';
import { parseConfig } from './load.ts';
import type { CutoverConfig } from './types.ts';

function cfg(services: string, gateway = 'listen: 127.0.0.1:8080'): CutoverConfig {
  const r = parseConfig(`gateway:\n  ${gateway}\n  workers: 2\nservices:\n${services}`, { baseDir: '/srv' });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  return r.config;
}

const web = (extra = '', version = 'v1', cmd = './server --port ${PORT}') =>
  `  web:\n    version: ${version}\n    replicas: 2\n    run: { command: "${cmd}" }\n${extra}`;

test('identical configs have no changes', () => {
  assert.deepEqual(diffConfig(cfg(web()), cfg(web())), []);
});

test('changes are classified: live, new revision, restart, added, removed', () => {
  const a = cfg(web());
  const b = cfg(
    `${web('    readiness: { path: /healthz }\n', 'v2', './server2 --port ${PORT}')}  api:\n    version: v1\n    route: { pathPrefix: /api }\n    run: { command: x }\n`,
    'listen: 127.0.0.1:9090',
  );
  const got = diffConfig(a, b).map(
    (c) => `${c.path} ${c.effect} ${JSON.stringify(c.from)}->${JSON.stringify(c.to)}`,
  );
  assert.deepEqual(got, [
    'gateway.listen.port restart 8080->9090',
    'services.api added undefined->undefined',
    'services.web.readiness.path live "/ready"->"/healthz"',
    'services.web.run.command new-revision "./server --port ${PORT}"->"./server2 --port ${PORT}"',
    'services.web.version new-revision "v1"->"v2"',
  ]);
  const removed = diffConfig(b, a).filter((c) => c.effect === 'removed');
  assert.deepEqual(
    removed.map((c) => c.path),
    ['services.api'],
  );
});

test('analysis and hooks are live; notifications need a restart', () => {
  const a = cfg(web());
  const extra =
    '    analysis: { metrics: [{ name: errors, errorRate: { max: 0.01 } }] }\n    hooks: { preRollout: { command: ./migrate.sh } }\n';
  const r = parseConfig(
    `gateway:\n  workers: 2\nnotifications: [{ url: "http://127.0.0.1:9000/hook" }]\nservices:\n${web(extra)}`,
    { baseDir: '/srv' },
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  const got = diffConfig(a, r.config).map((c) => `${c.path} ${c.effect}`);
  assert.ok(got.includes('notifications restart'), got.join('\n'));
  assert.ok(got.includes('services.web.hooks.preRollout.command live'), got.join('\n'));
  assert.ok(got.includes('services.web.analysis.minRequests live'), got.join('\n'));
  assert.ok(
    got.every((c) => c.endsWith(' live') || c === 'notifications restart'),
    got.join('\n'),
  );
});

test('TLS certificates, HSTS and HTTP/2 limits reload the gateway; adding or moving the TLS listener needs a restart', () => {
  const tls = (cert: string, listen = '127.0.0.1:8443', hsts = '') =>
    `listen: 127.0.0.1:8080\n  http2: { maxConcurrentStreams: 64 }\n  tls:\n    listen: ${listen}\n    certificates: [{ hosts: [a.example.com], cert: ${cert}, key: a.key }]\n${hsts}`;
  const effects = (a: CutoverConfig, b: CutoverConfig) =>
    diffConfig(a, b).map((c) => `${c.path} ${c.effect}`);
  assert.deepEqual(
    effects(cfg(web(), tls('a.crt')), cfg(web(), tls('b.crt', '127.0.0.1:8443', '    hsts: 1d\n'))),
    ['gateway.tls.certificates reload', 'gateway.tls.hstsSeconds reload'],
  );
  assert.deepEqual(effects(cfg(web(), tls('a.crt')), cfg(web(), tls('a.crt', '127.0.0.1:9443'))), [
    'gateway.tls.listen.port restart',
  ]);
  const plain = cfg(web(), 'listen: 127.0.0.1:8080');
  assert.ok(
    effects(plain, cfg(web(), tls('a.crt'))).every(
      (line) => !line.startsWith('gateway.tls') || line.endsWith('restart'),
    ),
  );
});
