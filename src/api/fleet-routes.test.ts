import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { parseOk } from '../config/test-helpers.ts';
import type { FleetClient } from '../fleet/client.ts';
import { ApiError } from './errors.ts';
import { fleetRoutes } from './fleet-routes.ts';

test('fleet mode refuses runtime routing changes of one host (rules, limits) with 409 before anything runs', async () => {
  const config = parseOk('services:\n  web:\n    version: v1\n    run: { command: x }\n');
  // The refusals never reach etcd: a client that is never called.
  const routes = fleetRoutes(
    () => config,
    {} as FleetClient,
    async () => ({ contentType: '', text: '' }),
  );
  const table: Array<[string, string, RegExp]> = [
    ['PUT', '/v1/services/web/limits', /^limits: not available in fleet mode/],
    ['DELETE', '/v1/services/web/limits', /^limits: not available in fleet mode/],
    ['PUT', '/v1/services/web/rules', /^rules: not available in fleet mode/],
  ];
  for (const [method, path, message] of table) {
    const route = routes.find(([m, re]) => m === method && re.test(path));
    assert.ok(route, `${method} ${path} has a fleet route`);
    const [, , handler, access] = route;
    assert.equal(access?.perm, 'operate', 'a deployer of the service is told why, not forbidden');
    const req = {} as http.IncomingMessage;
    const res = {} as http.ServerResponse;
    await assert.rejects(handler(req, res, { name: 'web' }, new URL(`http://x${path}`)), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.deepEqual([err.status, err.code], [409, 'not_in_fleet_mode']);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.equal(
    routes.some(([m, re]) => m === 'GET' && re.test('/v1/services/web/limits')),
    false,
    'showing the policy is left to the host',
  );
});
