import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { indent, issues, parseOk } from './test-helpers.ts';
import { validatePolicyBody } from './traffic-policy.ts';

/** A service with the policy keys of `body` beside its version and run. */
const svc = (body: string) =>
  `services:\n  web:\n    version: v1\n    run: { command: x }\n${indent(body, '    ')}\n`;

const messages = (text: string) => issues(svc(text)).map((i) => `${i.path}: ${i.message}`);

describe('traffic policy in the config file', () => {
  const example = {
    limits: {
      rate: { requests: 100, per: '1s', burst: 200, key: 'ip' },
      maxInFlightPerInstance: 64,
      queueTimeout: '2s',
      maxConnectionsPerClient: 200,
    },
    outlierDetection: {
      consecutive5xx: 5,
      errorRate: { above: 0.5, minRequests: 20, window: '10s' },
      ejectFor: '10s',
      maxEjectedPercent: 50,
    },
    timeouts: { request: '30s' },
    retries: { attempts: 2, budget: '20%' },
  };

  test('the issue example parses into exactly the expected policy (its checks, ahead of enforcement)', () => {
    const r = validatePolicyBody({ loadBalancer: { type: 'hash', key: 'cookie:session' }, ...example });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.loadBalancer, 'hash');
    assert.deepEqual(r.policy, {
      hashKey: { source: 'cookie', name: 'session' },
      rate: { requests: 100, perMs: 1000, burst: 200, key: { source: 'ip' } },
      maxInFlightPerInstance: 64,
      queueTimeoutMs: 2000,
      maxConnectionsPerClient: 200,
      outlierDetection: {
        consecutive5xx: 5,
        errorRate: { above: 0.5, minRequests: 20, windowMs: 10_000 },
        ejectForMs: 10_000,
        maxEjectedPercent: 50,
      },
      requestTimeoutMs: 30_000,
      retries: { attempts: 2, budgetPercent: 20 },
    });
  });

  test('defaults: burst = requests, key ip, ejectFor 10s, maxEjectedPercent 50, budget 20%', () => {
    const r = validatePolicyBody({
      loadBalancer: 'p2c',
      limits: { rate: { requests: 5, per: '1m', key: 'header:X-Api-Key' } },
      outlierDetection: { consecutive5xx: 3 },
      retries: { attempts: 1 },
    });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.loadBalancer, 'p2c');
    assert.deepEqual(r.policy, {
      rate: { requests: 5, perMs: 60_000, burst: 5, key: { source: 'header', name: 'x-api-key' } },
      outlierDetection: { consecutive5xx: 3, ejectForMs: 10_000, maxEjectedPercent: 50 },
      retries: { attempts: 1, budgetPercent: 20 },
    });
  });

  test('every policy key is taken: rate and maxConnectionsPerClient beside the others', () => {
    const all = parseOk(
      svc(
        'loadBalancer: { type: hash, key: cookie:session }\nlimits: { maxInFlightPerInstance: 64, rate: { requests: 5 }, maxConnectionsPerClient: 10 }\noutlierDetection: { consecutive5xx: 5 }',
      ),
    ).services.web;
    assert.deepEqual(all.policy?.rate, { requests: 5, perMs: 1000, burst: 5, key: { source: 'ip' } });
    assert.equal(all.policy?.maxConnectionsPerClient, 10);
    assert.equal(all.policy?.maxInFlightPerInstance, 64);
    const web = parseOk(
      svc(
        'limits: { maxInFlightPerInstance: 4, queueTimeout: 2s }\noutlierDetection: { consecutive5xx: 5 }\ntimeouts: { request: 30s }\nretries: { attempts: 2 }',
      ),
    ).services.web;
    assert.deepEqual(web.policy, {
      maxInFlightPerInstance: 4,
      queueTimeoutMs: 2_000,
      outlierDetection: { consecutive5xx: 5, ejectForMs: 10_000, maxEjectedPercent: 50 },
      requestTimeoutMs: 30_000,
      retries: { attempts: 2, budgetPercent: 20 },
    });
    const gw = parseOk(`${svc('loadBalancer: p2c')}gateway:\n  maxConnections: 20000\n`);
    assert.equal(gw.gateway.maxConnections, 20_000);
  });

  test('no policy keys: no policy, and the balancer string form still works', () => {
    const web = parseOk(svc('loadBalancer: leastInFlight')).services.web;
    assert.equal(web.loadBalancer, 'leastInFlight');
    assert.equal(web.policy, undefined);
  });

  const bad: [string, string, RegExp][] = [
    [
      'negative rate',
      'limits: { rate: { requests: -1 } }',
      /^services\.web\.limits\.rate\.requests: must be an integer >= 1/,
    ],
    [
      'rate without requests',
      'limits: { rate: { per: 1s } }',
      /^services\.web\.limits\.rate\.requests: is required/,
    ],
    [
      'zero per',
      'limits: { rate: { requests: 1, per: 0s } }',
      /^services\.web\.limits\.rate\.per: must be greater than 0/,
    ],
    [
      'unknown rate key kind',
      'limits: { rate: { requests: 1, key: cookie:x } }',
      /^services\.web\.limits\.rate\.key: .*unknown key kind "cookie"/,
    ],
    [
      'unknown hash key kind',
      'loadBalancer: { type: hash, key: route }',
      /^services\.web\.loadBalancer\.key: .*unknown key kind "route"/,
    ],
    [
      'hash without key',
      'loadBalancer: hash',
      /^services\.web\.loadBalancer\.key: is required with type: hash/,
    ],
    [
      'key without hash',
      'loadBalancer: { type: p2c, key: ip }',
      /^services\.web\.loadBalancer\.key: applies only to type: hash/,
    ],
    ['unknown balancer', 'loadBalancer: fastest', /^services\.web\.loadBalancer: must be one of roundRobin/],
    [
      'ip with a name',
      'limits: { rate: { requests: 1, key: ip:x } }',
      /^services\.web\.limits\.rate\.key: .*"ip" takes no name/,
    ],
    [
      'queue without a limit',
      'limits: { queueTimeout: 2s }',
      /^services\.web\.limits\.queueTimeout: needs maxInFlightPerInstance/,
    ],
    [
      'zero in-flight limit',
      'limits: { maxInFlightPerInstance: 0 }',
      /^services\.web\.limits\.maxInFlightPerInstance: must be an integer >= 1/,
    ],
    ['unknown limits key', 'limits: { maxInflight: 3 }', /^services\.web\.limits\.maxInflight: unknown key/],
    [
      'outlier without a trigger',
      'outlierDetection: { ejectFor: 1s }',
      /^services\.web\.outlierDetection: needs consecutive5xx or errorRate/,
    ],
    [
      'error rate above 1',
      'outlierDetection: { errorRate: { above: 2 } }',
      /^services\.web\.outlierDetection\.errorRate\.above: must be/,
    ],
    [
      'ejected percent above 100',
      'outlierDetection: { consecutive5xx: 1, maxEjectedPercent: 150 }',
      /^services\.web\.outlierDetection\.maxEjectedPercent: must be an integer between 0 and 100/,
    ],
    ['bad budget', 'retries: { budget: lots }', /^services\.web\.retries\.budget: must be a share/],
    [
      'bad request timeout',
      'timeouts: { request: soon }',
      /^services\.web\.timeouts\.request: must be a duration/,
    ],
  ];
  for (const [name, text, expected] of bad) {
    test(`refused with the key path: ${name}`, () => {
      const got = messages(text);
      assert.ok(got.length > 0);
      assert.ok(
        got.some((m) => expected.test(m)),
        got.join('\n'),
      );
    });
  }

  test('gateway.maxConnections must be a positive integer', () => {
    const got = issues(`${svc('replicas: 1')}gateway:\n  maxConnections: -5\n`);
    assert.ok(got.length > 0);
    assert.equal(got[0].path, 'gateway.maxConnections');
  });
});

describe('a runtime policy body (cutover limits)', () => {
  test('accepted body', () => {
    const r = validatePolicyBody({ loadBalancer: 'p2c', limits: { maxInFlightPerInstance: 2 } });
    assert.deepEqual(r, { ok: true, loadBalancer: 'p2c', policy: { maxInFlightPerInstance: 2 } });
  });
  test('an empty body clears the policy', () => {
    assert.deepEqual(validatePolicyBody({}), { ok: true, loadBalancer: 'roundRobin', policy: undefined });
  });
  test('bad body: the body key path, nothing accepted', () => {
    const r = validatePolicyBody({ limits: { rate: { requests: 0 } }, nope: 1 });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.issues.map((i) => i.path).sort(), ['limits.rate.requests', 'nope']);
  });
  test('a body that is not a mapping', () => {
    const r = validatePolicyBody([1]);
    assert.equal(r.ok, false);
  });
});
