import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GATEWAY_SRC_ENV, gatewaySource, masterLaunch } from './master-launch.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

test('gatewaySource: beside this module when run from the sources, under CUTOVER_GATEWAY_SRC when it is set', () => {
  assert.equal(gatewaySource('worker.ts', {}), path.join(path.dirname(MAIN), 'worker.ts'));
  assert.equal(
    gatewaySource('main.ts', { [GATEWAY_SRC_ENV]: '/opt/cutover/src/gateway' }),
    '/opt/cutover/src/gateway/main.ts',
  );
});

test('the master bundle runs without type stripping and needs to be told where the sources are', () => {
  const launch = masterLaunch(MAIN, (message, error) => assert.fail(`${message}: ${error}`));
  assert.match(launch.script, /node_modules\/\.cache\/cutover-gateway\/[0-9a-f]{16}\/main\.mjs$/);
  assert.deepEqual(launch.env, { [GATEWAY_SRC_ENV]: path.dirname(MAIN) });
  const env = { ...process.env };
  delete env[GATEWAY_SRC_ENV];
  const run = (extra: NodeJS.ProcessEnv) =>
    spawnSync(
      process.execPath,
      ['--no-experimental-strip-types', launch.script, '--settings', '/nonexistent/settings.json'],
      {
        env: { ...env, ...extra },
        encoding: 'utf8',
      },
    );
  const lost = run({});
  assert.notEqual(lost.status, 0);
  assert.match(lost.stderr, /needs CUTOVER_GATEWAY_SRC set to its sources/);
  // Told, it gets as far as its settings file.
  const told = run(launch.env);
  assert.notEqual(told.status, 0);
  assert.doesNotMatch(told.stderr, /CUTOVER_GATEWAY_SRC/);
  assert.match(told.stderr, /nonexistent\/settings\.json/);
});
