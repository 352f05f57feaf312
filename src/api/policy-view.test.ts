import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { prng } from '../../test/helpers/prng.ts';
import { validatePolicyBody } from '../config/traffic-policy.ts';
import { routePolicyProblem } from '../gateway/limit-check.ts';
import { policyDocument, policyView } from './policy-view.ts';

/** Bodies as an operator writes them (YAML/JSON of `cutover limits --file`). */
const BODIES: Array<[string, Record<string, unknown>]> = [
  ['empty', {}],
  ['a balancer alone', { loadBalancer: 'p2c' }],
  [
    'everything',
    {
      loadBalancer: { type: 'hash', key: 'cookie:session' },
      limits: {
        rate: { requests: 100, per: '1s', burst: 200, key: 'header:X-User' },
        maxInFlightPerInstance: 64,
        queueTimeout: '1m30s',
        maxConnectionsPerClient: 10,
      },
      outlierDetection: {
        consecutive5xx: 5,
        errorRate: { above: 0.5, minRequests: 20, window: '10s' },
        ejectFor: '30s',
        maxEjectedPercent: 25,
      },
      timeouts: { request: '2500ms' },
      retries: { attempts: 3, budget: '25%' },
    },
  ],
  [
    'defaults filled in',
    { limits: { rate: { requests: 5 } }, outlierDetection: { consecutive5xx: 3 }, retries: {} },
  ],
];

describe('the policy document (GET /limits, --json)', () => {
  for (const [what, body] of BODIES) {
    test(`${what}: the gateway takes it, and the document validates back to the same policy`, () => {
      const v = validatePolicyBody(body);
      assert.ok(v.ok, JSON.stringify(v));
      // An accepted body the gateway refused would stall every later route table push.
      assert.equal(routePolicyProblem(v.policy, v.loadBalancer), null);
      const doc = policyDocument({ loadBalancer: v.loadBalancer, policy: v.policy });
      const again = validatePolicyBody(doc);
      assert.deepEqual(again, v);
    });
  }

  test('written with the config file keys and units', () => {
    const v = validatePolicyBody(BODIES[3][1]);
    assert.ok(v.ok);
    assert.deepEqual(policyDocument({ loadBalancer: v.loadBalancer, policy: v.policy }), {
      loadBalancer: { type: 'roundRobin' },
      limits: { rate: { requests: 5, per: '1s', burst: 5, key: 'ip' } },
      outlierDetection: { consecutive5xx: 3, ejectFor: '10s', maxEjectedPercent: 50 },
      retries: { attempts: 2, budget: '20%' },
    });
  });

  test('the view: source, the one-line summary and the document', () => {
    assert.deepEqual(policyView({ loadBalancer: 'roundRobin', source: 'config' }), {
      source: 'config',
      summary: 'roundRobin, no limits',
      policy: { loadBalancer: { type: 'roundRobin' } },
    });
    const hashed = policyView({
      loadBalancer: 'hash',
      policy: { hashKey: { source: 'query', name: 'u' }, maxInFlightPerInstance: 4 },
      source: 'runtime',
    });
    assert.equal(hashed.summary, 'hash query:u, 4 in flight per instance');
    assert.deepEqual(hashed.policy.loadBalancer, { type: 'hash', key: 'query:u' });
  });
});

describe('a PUT /limits body is validated like the config file', () => {
  const table: Array<[string, unknown, string[]]> = [
    ['negative requests', { limits: { rate: { requests: -1, per: '1s' } } }, ['limits.rate.requests']],
    ['zero requests', { limits: { rate: { requests: 0 } } }, ['limits.rate.requests']],
    ['a bare-number duration', { limits: { rate: { requests: 5, per: 1 } } }, ['limits.rate.per']],
    [
      'a rate key kind that does not exist',
      { limits: { rate: { requests: 5, key: 'user' } } },
      ['limits.rate.key'],
    ],
    ['hash without a key', { loadBalancer: 'hash' }, ['loadBalancer.key']],
    ['a key on round robin', { loadBalancer: { type: 'roundRobin', key: 'ip' } }, ['loadBalancer.key']],
    ['queueTimeout alone', { limits: { queueTimeout: '1s' } }, ['limits.queueTimeout']],
    ['outlier detection without a trigger', { outlierDetection: { ejectFor: '1s' } }, ['outlierDetection']],
    ['too many retries', { retries: { attempts: 11 } }, ['retries.attempts']],
    ['an unknown key (a typo)', { limit: {} }, ['limit']],
    ['a key of another part of the service config', { replicas: 3 }, ['replicas']],
  ];
  for (const [what, body, paths] of table) {
    test(what, () => {
      const v = validatePolicyBody(body);
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.deepEqual(
        v.issues.map((i) => i.path),
        paths,
        v.issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      );
    });
  }
});

describe('random policy bodies (seeded)', () => {
  test('the validator never throws; what it accepts the gateway takes and the document gives back', () => {
    const rnd = prng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const values = [0, 1, 5, -1, 2.5, 1e12, '1s', '0s', '250ms', 'x', '20%', '150%', 0.5, null, true, [], {}];
    const keys = ['ip', 'route', 'header:X-User', 'cookie:s', 'query:q', 'user', 'header:', 'cookie:a b'];
    const maybe = <T>(v: () => T): T | undefined => (rnd() < 0.5 ? v() : undefined);
    const strip = (o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    const body = () =>
      strip({
        loadBalancer: maybe(() =>
          rnd() < 0.5
            ? pick(['roundRobin', 'p2c', 'hash', 'random', 'leastInFlight', 'rr'])
            : strip({ type: pick(['hash', 'p2c', 'nope']), key: maybe(() => pick(keys)) }),
        ),
        limits: maybe(() =>
          strip({
            rate: maybe(() =>
              strip({
                requests: maybe(() => pick(values)),
                per: maybe(() => pick(values)),
                burst: maybe(() => pick(values)),
                key: maybe(() => pick(keys)),
              }),
            ),
            maxInFlightPerInstance: maybe(() => pick(values)),
            queueTimeout: maybe(() => pick(values)),
            maxConnectionsPerClient: maybe(() => pick(values)),
          }),
        ),
        outlierDetection: maybe(() =>
          strip({
            consecutive5xx: maybe(() => pick(values)),
            errorRate: maybe(() => strip({ above: pick(values), window: maybe(() => pick(values)) })),
            ejectFor: maybe(() => pick(values)),
            maxEjectedPercent: maybe(() => pick(values)),
          }),
        ),
        timeouts: maybe(() => strip({ request: pick(values) })),
        retries: maybe(() =>
          strip({ attempts: maybe(() => pick(values)), budget: maybe(() => pick(values)) }),
        ),
      });
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const b = body();
      const v = validatePolicyBody(b);
      if (!v.ok) {
        assert.ok(
          v.issues.length > 0 && v.issues.every((x) => x.path !== '' && x.message !== ''),
          JSON.stringify(b),
        );
        continue;
      }
      accepted++;
      assert.equal(routePolicyProblem(v.policy, v.loadBalancer), null, JSON.stringify(b));
      assert.deepEqual(
        validatePolicyBody(policyDocument({ loadBalancer: v.loadBalancer, policy: v.policy })),
        v,
      );
    }
    assert.ok(accepted > 100, `${accepted} of 3000 accepted: the generator reaches valid bodies`);
  });
});
