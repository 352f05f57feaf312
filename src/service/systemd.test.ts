import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import { systemdUnits } from './systemd.ts';

test('systemd units: socket owns the listener, service keeps the data plane across restarts', () => {
  const r = parseConfig(
    'gateway:\n  listen: 127.0.0.1:8088\nservices:\n  web:\n    version: v1\n    run: { command: x }\n',
    {
      baseDir: '/srv/app',
    },
  );
  assert.ok(r.ok);
  const u = systemdUnits(r.config, {
    configFile: '/srv/my app/cutover.yaml',
    node: '/usr/bin/node',
    bin: '/opt/cutover/bin/cutover.mjs',
    name: 'cutover',
    user: 'deploy',
  });
  assert.match(u.socket, /^ListenStream=127\.0\.0\.1:8088$/m);
  assert.match(
    u.service,
    /^ExecStart=\/usr\/bin\/node \/opt\/cutover\/bin\/cutover\.mjs up -c "\/srv\/my app\/cutover\.yaml" --keep-running$/m,
  );
  assert.match(u.service, /^KillMode=process$/m);
  assert.match(u.service, /^User=deploy$/m);
  assert.match(u.service, /^Requires=cutover\.socket$/m);
  assert.match(u.service, /Description=Cutover: zero-downtime releases \(web\)/);
});
