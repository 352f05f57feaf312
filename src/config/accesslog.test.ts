import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatewaySettings } from '../controller/gateway-process.ts';
import { parseConfig } from './load.ts';

test('gateway.accessLog parses, resolves its file and reaches the gateway settings; bad values are reported', () => {
  const ok = parseConfig('gateway:\n  accessLog: { sample: 0.25, file: logs/a.log }\n', {
    baseDir: '/srv/app',
  });
  assert.ok(ok.ok);
  assert.deepEqual(ok.config.gateway.accessLog, { enabled: true, sample: 0.25, file: '/srv/app/logs/a.log' });
  assert.deepEqual(gatewaySettings(ok.config).accessLog, {
    enabled: true,
    sample: 0.25,
    file: '/srv/app/logs/a.log',
  });
  const off = parseConfig('gateway:\n  listen: 127.0.0.1:8080\n', { baseDir: '/srv' });
  assert.ok(off.ok);
  assert.equal(off.config.gateway.accessLog, undefined);
  const bad = parseConfig('gateway:\n  accessLog: { sample: 2, enabeld: true }\n', { baseDir: '/srv' });
  assert.ok(!bad.ok);
  assert.deepEqual(
    bad.issues.map((i) => `${i.line}: ${i.path}`),
    ['2: gateway.accessLog.enabeld', '2: gateway.accessLog.sample'],
  );
});
