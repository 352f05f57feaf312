import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as D from './defaults.ts';
import { HOOK_NAMES } from './hooks.ts';
import { formatIssues, parseConfig } from './load.ts';
import { NOTIFICATION_EVENTS } from './notifications.ts';

const doc = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
/** The examples' relative files that must exist (cluster.etcd.tls, passwordFile) are here. */
const EXAMPLES_DIR = fileURLToPath(new URL('../../test/fixtures/docs-config/', import.meta.url));

test('every YAML example in docs/config.md is a valid config', () => {
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 2);
  for (const block of blocks) {
    const r = parseConfig(block, { baseDir: EXAMPLES_DIR, env: {}, hostname: 'web-1' });
    assert.ok(r.ok, r.ok ? '' : `${formatIssues(r.issues)}\n---\n${block}`);
  }
});

test('docs/config.md states the defaults the code uses', () => {
  const rows: [string, string][] = [
    ['connectTimeout', D.DEFAULT_CONNECT_TIMEOUT],
    ['upstreamTimeout', D.DEFAULT_UPSTREAM_TIMEOUT],
    ['upstreamIdleTimeout', D.DEFAULT_UPSTREAM_IDLE_TIMEOUT],
    ['clientIdleTimeout', D.DEFAULT_CLIENT_IDLE_TIMEOUT],
    ['requestHeadTimeout', D.DEFAULT_REQUEST_HEAD_TIMEOUT],
    ['maxBodySize', D.DEFAULT_MAX_BODY_SIZE],
    ['maxHeaderSize', D.DEFAULT_MAX_HEADER_SIZE],
    ['maxHeaders', String(D.DEFAULT_MAX_HEADERS)],
    ['retries', String(D.DEFAULT_RETRIES)],
    ['ejectAfterFailures', String(D.DEFAULT_EJECT_AFTER_FAILURES)],
    ['ejectFor', D.DEFAULT_EJECT_FOR],
    ['startupTimeout', D.DEFAULT_STARTUP_TIMEOUT],
    ['dataDir', D.DEFAULT_DATA_DIR],
    ['replicas', String(D.DEFAULT_REPLICAS)],
    ['loadBalancer', D.DEFAULT_LOAD_BALANCER],
    ['drainTimeout', D.DEFAULT_DRAIN_TIMEOUT],
    ['stopTimeout', D.DEFAULT_STOP_TIMEOUT],
    ['logMaxSize', D.DEFAULT_LOG_MAX_SIZE],
    ['restartBackoff', D.DEFAULT_RESTART_BACKOFF],
    ['restartBackoffMax', D.DEFAULT_RESTART_BACKOFF_MAX],
    ['maxSurge', D.DEFAULT_MAX_SURGE],
    ['maxUnavailable', D.DEFAULT_MAX_UNAVAILABLE],
    ['minReadySeconds', String(D.DEFAULT_MIN_READY_SECONDS)],
    ['progressDeadline', D.DEFAULT_PROGRESS_DEADLINE],
    ['revisionHistoryLimit', String(D.DEFAULT_REVISION_HISTORY_LIMIT)],
    ['autoPromote', String(D.DEFAULT_AUTO_PROMOTE)],
    ['autoPromoteAfter', D.DEFAULT_AUTO_PROMOTE_AFTER],
    ['scaleDownDelay', D.DEFAULT_SCALE_DOWN_DELAY],
    ['canaryReplicas', String(D.DEFAULT_CANARY_REPLICAS)],
    ['mirrorMaxBodySize', D.DEFAULT_MIRROR_MAX_BODY_SIZE],
    ['handshakeTimeout', D.DEFAULT_TLS_HANDSHAKE_TIMEOUT],
    ['maxConcurrentStreams', String(D.DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS)],
    ['hosts', D.DEFAULT_SERVICE_HOSTS],
    ['hostsAtOnce', String(D.DEFAULT_HOSTS_AT_ONCE)],
    ['etcd.dialTimeout', D.DEFAULT_ETCD_DIAL_TIMEOUT],
    ['prefix', D.DEFAULT_CLUSTER_PREFIX],
    ['leaseTtl', D.DEFAULT_LEASE_TTL],
    ['onHostLost', D.DEFAULT_ON_HOST_LOST],
  ];
  /** [key, default, heading the table follows] for keys that appear in several tables. */
  const sectioned: [string, string, string][] = [
    ['timeout', D.DEFAULT_HOOK_TIMEOUT, '### `hooks`'],
    ['path', D.DEFAULT_HEALTH_PATH, '### `gateway.health`'],
    ['http.method', D.DEFAULT_HOOK_METHOD, '### `hooks`'],
    ['format', D.DEFAULT_NOTIFICATION_FORMAT, '## `notifications`'],
    ['timeout', D.DEFAULT_NOTIFICATION_TIMEOUT, '## `notifications`'],
    ['retries', String(D.DEFAULT_NOTIFICATION_RETRIES), '## `notifications`'],
  ];
  for (const [key, value, heading] of [
    ...rows.map(([k, v]): [string, string, string] => [k, v, '']),
    ...sectioned,
  ]) {
    const lines = doc.split('\n');
    const from = heading === '' ? 0 : lines.indexOf(heading);
    assert.ok(from >= 0, `no heading ${heading}`);
    const cells = lines
      .slice(from)
      .map((l) => l.split(/(?<!\\)\|/).map((c) => c.trim()))
      .find((c) => c[1] === `\`${key}\``);
    assert.ok(cells, `no table row for ${key} ${heading}`);
    assert.equal(cells[3], `\`${value}\``, `${key} ${heading}: docs row does not show default ${value}`);
  }
});

test('docs/config.md lists every notification event and hook', () => {
  for (const e of NOTIFICATION_EVENTS) assert.ok(doc.includes(`\`${e}\``), `event ${e} is not documented`);
  for (const h of HOOK_NAMES) assert.ok(doc.includes(`| \`${h}\``), `hook ${h} is not documented`);
});
