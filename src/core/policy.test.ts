import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TrafficPolicy } from '../config/types.ts';
import type { RuntimePolicy, ServiceState } from './model.ts';
import { describePolicy, effectivePolicy, type PolicySpec, setPolicy } from './policy.ts';
import { initialServiceState } from './service.ts';
import { rollingDeploy, run } from './test-fixtures.ts';

const rate: TrafficPolicy['rate'] = { requests: 5, perMs: 1000, burst: 5, key: { source: 'ip' } };
const fromConfig: PolicySpec = { loadBalancer: 'p2c', policy: { maxInFlightPerInstance: 8 } };
const bare: PolicySpec = { loadBalancer: 'roundRobin' };
const healthy = (): ServiceState => ({ ...initialServiceState('web', 'v1', run, 0), phase: 'Healthy' });
const override: RuntimePolicy = { loadBalancer: 'roundRobin', policy: { rate } };

describe('the policy in effect', () => {
  const table: Array<[string, PolicySpec, ServiceState | undefined, ReturnType<typeof effectivePolicy>]> = [
    ['no state yet: the config', fromConfig, undefined, { ...fromConfig, source: 'config' }],
    ['no override: the config', fromConfig, healthy(), { ...fromConfig, source: 'config' }],
    ['a config without policy keys', bare, healthy(), { loadBalancer: 'roundRobin', source: 'config' }],
    [
      'an override replaces the whole config policy (its in-flight limit is gone)',
      fromConfig,
      { ...healthy(), policy: override },
      { ...override, source: 'runtime' },
    ],
    [
      'an empty override turns everything off',
      fromConfig,
      { ...healthy(), policy: { loadBalancer: 'roundRobin' } },
      { loadBalancer: 'roundRobin', source: 'runtime' },
    ],
  ];
  for (const [what, spec, state, want] of table)
    test(what, () => assert.deepEqual(effectivePolicy(spec, state), want));
});

describe('setPolicy', () => {
  test('replaces the policy, keeps the rest of the state and records PolicyChanged', () => {
    const before = healthy();
    const r = setPolicy(before, override);
    assert.ok(r.ok);
    assert.deepEqual(r.state, { ...before, policy: override });
    assert.equal(r.revision, before.stable);
    assert.deepEqual(r.events, [
      {
        service: 'web',
        type: 'PolicyChanged',
        message: 'traffic policy replaced at runtime: rate 5/1s burst 5 by ip',
      },
    ]);
  });

  test('reset drops the override (the key is gone, not undefined) and says so', () => {
    const r = setPolicy({ ...healthy(), policy: override }, undefined);
    assert.ok(r.ok);
    assert.equal(Object.hasOwn(r.state, 'policy'), false);
    assert.deepEqual(r.state, healthy());
    assert.equal(r.events[0].type, 'PolicyChanged');
    assert.equal(r.events[0].message, 'traffic policy reset to the config file');
  });

  test('works during a rollout and names its target revision', () => {
    const s: ServiceState = {
      ...healthy(),
      rollout: rollingDeploy(),
    };
    const r = setPolicy(s, override);
    assert.ok(r.ok);
    assert.equal(r.revision, 2);
    assert.deepEqual(r.state.rollout, s.rollout);
  });
});

describe('the one-line summary', () => {
  const table: Array<[RuntimePolicy, string]> = [
    [{ loadBalancer: 'roundRobin' }, 'roundRobin, no limits'],
    [{ loadBalancer: 'roundRobin', policy: {} }, 'roundRobin, no limits'],
    [{ loadBalancer: 'leastInFlight' }, 'leastInFlight'],
    [
      {
        loadBalancer: 'hash',
        policy: {
          hashKey: { source: 'cookie', name: 'session' },
          rate: { requests: 100, perMs: 1000, burst: 200, key: { source: 'ip' } },
          maxInFlightPerInstance: 64,
        },
      },
      'hash cookie:session, rate 100/1s burst 200 by ip, 64 in flight per instance',
    ],
    [
      {
        loadBalancer: 'roundRobin',
        policy: {
          rate: { requests: 3, perMs: 250, burst: 3, key: { source: 'header', name: 'x-user' } },
          maxInFlightPerInstance: 2,
          queueTimeoutMs: 500,
          maxConnectionsPerClient: 10,
        },
      },
      'rate 3/250ms burst 3 by header:x-user, 2 in flight per instance (queue 500ms), 10 connections per client',
    ],
    [
      {
        loadBalancer: 'random',
        policy: {
          outlierDetection: {
            consecutive5xx: 5,
            errorRate: { above: 0.5, minRequests: 20, windowMs: 10_000 },
            ejectForMs: 10_000,
            maxEjectedPercent: 50,
          },
          requestTimeoutMs: 30_000,
          retries: { attempts: 2, budgetPercent: 20 },
        },
      },
      'random, eject after 5 5xx in a row or 50% 5xx for 10s, timeout 30s, 2 retries (budget 20%)',
    ],
  ];
  for (const [p, want] of table) test(want, () => assert.equal(describePolicy(p), want));
});
