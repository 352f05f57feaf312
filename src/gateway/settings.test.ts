import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatewaySettings } from '../../test/helpers/gateway-helpers.ts';
import { checkSettings } from './settings.ts';

test('checkSettings accepts complete settings and names every bad field', () => {
  assert.deepEqual(checkSettings(gatewaySettings()), []);
  assert.deepEqual(
    checkSettings({ ...gatewaySettings(), workers: 0, retries: -1, listen: { host: 'h', port: 70000 } }),
    [
      'listen.port must be an integer 0-65535',
      'workers must be an integer >= 1',
      'retries must be a number >= 0',
    ],
  );
  assert.deepEqual(checkSettings(null), ['settings must be a JSON object']);
});
