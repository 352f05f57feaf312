import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOk } from '../config/test-helpers.ts';
import type { ServiceState } from '../core/model.ts';
import { setPolicy } from '../core/policy.ts';
import { initialServiceState } from '../core/service.ts';
import type { InstanceStatus } from '../runtime/types.ts';
import { buildRoutes } from './routes.ts';

const config = parseOk(`services:
  web:
    version: v1
    run: { command: x }
    loadBalancer: p2c
    limits: { maxInFlightPerInstance: 8 }
`);
const instance: InstanceStatus = {
  id: 'web-a',
  service: 'web',
  revision: 1,
  version: 'v1',
  port: 4000,
  phase: 'running',
  ready: true,
  createdAt: 0,
  restarts: 0,
};
const healthy: ServiceState = {
  ...initialServiceState('web', 'v1', config.services.web.run, 0),
  phase: 'Healthy',
};
const routeOf = (state: ServiceState) =>
  buildRoutes(Object.values(config.services), new Map([['web', state]]), [instance], new Set())[0];

test('the route table carries the policy in effect: the config, a runtime override, the config again after reset', () => {
  const fromConfig = routeOf(healthy);
  assert.equal(fromConfig.balance, 'p2c');
  assert.deepEqual(fromConfig.policy, { maxInFlightPerInstance: 8 });

  const set = setPolicy(healthy, {
    loadBalancer: 'roundRobin',
    policy: { rate: { requests: 5, perMs: 1000, burst: 5, key: { source: 'ip' } } },
  });
  assert.ok(set.ok);
  const overridden = routeOf(set.state);
  assert.equal(overridden.balance, 'roundRobin');
  assert.deepEqual(overridden.policy, {
    rate: { requests: 5, perMs: 1000, burst: 5, key: { source: 'ip' } },
  });
  assert.deepEqual(
    overridden.upstreams.map((u) => u.instance),
    ['web-a'],
    'the instances routed are the same',
  );

  const off = setPolicy(healthy, { loadBalancer: 'roundRobin' });
  assert.ok(off.ok);
  assert.equal(Object.hasOwn(routeOf(off.state), 'policy'), false, 'an empty override: no policy at all');

  const reset = setPolicy(set.state, undefined);
  assert.ok(reset.ok);
  assert.deepEqual(routeOf(reset.state), fromConfig);
});
