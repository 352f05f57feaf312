import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyView } from '../api/policy-view.ts';
import { formatPolicy, policyLine } from './policy-format.ts';

const none: PolicyView = {
  source: 'config',
  summary: 'roundRobin, no limits',
  policy: { loadBalancer: { type: 'roundRobin' } },
};
const limited: PolicyView = {
  source: 'runtime',
  summary: 'hash cookie:session, rate 5/1s burst 5 by ip',
  policy: {
    loadBalancer: { type: 'hash', key: 'cookie:session' },
    limits: { rate: { requests: 5, per: '1s', burst: 5, key: 'ip' } },
  },
};

test('status shows a policy line only when something is set or it was changed at runtime', () => {
  const table: Array<[string, PolicyView | undefined, string | null]> = [
    ['an older host without the key', undefined, null],
    ['the default from the config', none, null],
    [
      'an empty runtime policy (everything turned off)',
      { ...none, source: 'runtime' },
      'policy (runtime): roundRobin, no limits',
    ],
    [
      'a config policy',
      { ...limited, source: 'config' },
      'policy: hash cookie:session, rate 5/1s burst 5 by ip',
    ],
    ['a runtime policy', limited, 'policy (runtime): hash cookie:session, rate 5/1s burst 5 by ip'],
  ];
  for (const [what, v, want] of table) assert.equal(policyLine(v), want, what);
});

test('cutover limits shows one row per key in effect', () => {
  assert.equal(
    formatPolicy({ service: 'web', ...limited }),
    [
      'traffic policy of web (runtime): hash cookie:session, rate 5/1s burst 5 by ip',
      '  loadBalancer                   hash on cookie:session',
      '  limits.rate                    5 per 1s, burst 5, by ip',
    ].join('\n'),
  );
});
