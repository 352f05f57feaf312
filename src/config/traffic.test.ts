import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig, validateService } from './load.ts';
import { indent, issues, lines, parseOk, where } from './test-helpers.ts';
import { validateTraffic, validateWeight } from './traffic.ts';
import type { TrafficConfig } from './types.ts';

/** A service whose `traffic:` block is `body` (indented under it). Line 6 is `traffic:`. */
const svc = (body: string) =>
  `services:\n  web:\n    version: v1\n    run: { command: x }\n    strategy: { type: canary, steps: [{ setWeight: 10 }] }\n    traffic:\n${indent(body, '      ')}\n`;

const traffic = (text: string): TrafficConfig => parseOk(text).services.web.traffic;

describe('traffic in the config file', () => {
  test('every rule kind parses into exactly the expected object', () => {
    const t = traffic(
      svc(`
stickyBy: header:X-User-Id
rules:
  - match: { header: { X-Gray-Version: beta } }
    to: canary
  - match: { header: { X-Gray-Version: { prefix: be } } }
    to: canary
  - match: { header: { X-A: { exact: "1" }, X-B: { regex: "^v[0-9]+$" } } }
    to: stable
  - match: { cookie: { canary: always } }
    to: canary
  - match: { query: { beta: "1", n: 2 } }
    to: canary
  - match: { userIn: [alice, bob, 42] }
    to: canary
  - match: { userAgent: "(?i)iphone|android" }
    to: stable
  - match: { header: { X-Region: eu-west }, cookie: { Plan: pro } }
    to: canary
`),
    );
    const expected: TrafficConfig = {
      stickyBy: { source: 'header', name: 'x-user-id' },
      rules: [
        { match: { header: { 'x-gray-version': { exact: 'beta' } } }, to: 'canary' },
        { match: { header: { 'x-gray-version': { prefix: 'be' } } }, to: 'canary' },
        { match: { header: { 'x-a': { exact: '1' }, 'x-b': { regex: '^v[0-9]+$' } } }, to: 'stable' },
        { match: { cookie: { canary: { exact: 'always' } } }, to: 'canary' },
        { match: { query: { beta: { exact: '1' }, n: { exact: '2' } } }, to: 'canary' },
        { match: { userIn: ['alice', 'bob', '42'] }, to: 'canary' },
        { match: { userAgent: '(?i)iphone|android' }, to: 'stable' },
        {
          match: { header: { 'x-region': { exact: 'eu-west' } }, cookie: { Plan: { exact: 'pro' } } },
          to: 'canary',
        },
      ],
    };
    assert.deepEqual(t, expected);
  });

  test('default: no sticky key, no rules (for every strategy)', () => {
    for (const strategy of ['', '    strategy: { type: blueGreen }\n', '    strategy: { type: rolling }\n']) {
      const r = parseConfig(`services:\n  web:\n    version: v1\n    run: { command: x }\n${strategy}`, {
        baseDir: '/srv',
      });
      assert.ok(r.ok);
      if (r.ok) assert.deepEqual(r.config.services.web.traffic, { rules: [] });
    }
  });

  test('rules are allowed with blueGreen and rolling too', () => {
    const r = parseConfig(
      'services:\n  web:\n    version: v1\n    run: { command: x }\n    traffic: { rules: [{ match: { cookie: { a: b } }, to: canary }] }\n',
      { baseDir: '/srv' },
    );
    assert.ok(r.ok);
  });

  test('stickyBy: each source; header names lower-cased, cookie and query names kept', () => {
    const sticky = (s: string) => traffic(svc(`stickyBy: "${s}"`)).stickyBy;
    assert.deepEqual(sticky('header:X-User-Id'), { source: 'header', name: 'x-user-id' });
    assert.deepEqual(sticky('cookie:SessionId'), { source: 'cookie', name: 'SessionId' });
    assert.deepEqual(sticky('query: uid'), { source: 'query', name: 'uid' });
  });

  test('stickyBy parsing errors', () => {
    const cases: [string, RegExp][] = [
      ['X-User-Id', /must be "header:NAME", "cookie:NAME" or "query:NAME"/],
      ['headers:X-User-Id', /unknown source "headers"; did you mean "header"\?/],
      ['ip:x', /unknown source "ip"/],
      ['cookie:', /the name after "cookie:" is missing/],
      ['header:X User', /"X User" is not a valid header name/],
      ['query:a&b', /not a valid query parameter name/],
    ];
    for (const [s, re] of cases) {
      const is = issues(svc(`stickyBy: "${s}"`));
      assert.deepEqual(where(is), ['7: services.web.traffic.stickyBy'], s);
      assert.match(is[0].message, re, s);
    }
    assert.match(issues(svc('stickyBy: 1'))[0].message, /got 1/);
  });

  test('userIn without stickyBy is an error', () => {
    assert.deepEqual(lines(issues(svc('rules:\n  - match: { userIn: [alice] }\n    to: canary'))), [
      '8: services.web.traffic.rules.0.match.userIn: requires services.web.traffic.stickyBy (userIn compares the sticky key, e.g. stickyBy: header:X-User-Id)',
    ]);
  });

  test('rule structure errors point at the rule', () => {
    const is = issues(
      svc(`
stickyBy: cookie:uid
rules:
  - match: {}
    to: canary
  - to: canary
  - match: { header: { X-A: a } }
  - match: { header: { X-A: a } }
    to: Canary
  - match: { headers: { X-A: a } }
    to: stable
  - match: { header: {} }
    to: stable
  - match: { header: { X-A: a, x-a: b } }
    to: stable
  - match: { header: { X-A: { prefix: a, exact: b } } }
    to: stable
  - match: { header: { X-A: { contains: a } } }
    to: stable
  - match: { userIn: [] }
    to: canary
  - match: { cookie: { "bad name": a } }
    to: canary
  - nope
`),
    );
    assert.deepEqual(lines(is), [
      '9: services.web.traffic.rules.0.match: must have at least one condition (header, cookie, query, userIn, userAgent)',
      '11: services.web.traffic.rules.1.match: is required: at least one of header, cookie, query, userIn, userAgent',
      '12: services.web.traffic.rules.2.to: is required: stable or canary',
      '14: services.web.traffic.rules.3.to: must be "stable" or "canary", got "Canary"; did you mean "canary"?',
      '15: services.web.traffic.rules.4.match.headers: unknown key; did you mean "header"?',
      '15: services.web.traffic.rules.4.match: must have at least one condition (header, cookie, query, userIn, userAgent)',
      '17: services.web.traffic.rules.5.match.header: must name at least one header (e.g. header: { X-Beta: "1" })',
      '19: services.web.traffic.rules.6.match.header.x-a: same header as "X-A" (header names are case-insensitive)',
      '21: services.web.traffic.rules.7.match.header.X-A: must have exactly one of exact, prefix, regex, got prefix and exact',
      '23: services.web.traffic.rules.8.match.header.X-A.contains: unknown key',
      '25: services.web.traffic.rules.9.match.userIn: must be a non-empty list of sticky keys (e.g. [alice, bob]), got a list',
      '27: services.web.traffic.rules.10.match.cookie.bad name: "bad name" is not a valid cookie name',
      '29: services.web.traffic.rules.11: must be a mapping with match and to, got "nope"',
    ]);
  });

  test('invalid and catastrophic regexes are rejected with their paths', () => {
    const is = issues(
      svc(`
rules:
  - match: { header: { X-A: { regex: "(" } } }
    to: canary
  - match: { userAgent: "(a+)+$" }
    to: stable
  - match: { query: { q: { regex: "(a|aa)+" } } }
    to: canary
  - match: { userAgent: "a(?i)b" }
    to: stable
  - match: { userAgent: 5 }
    to: stable
`),
    );
    assert.deepEqual(lines(is), [
      '8: services.web.traffic.rules.0.match.header.X-A.regex: invalid regular expression: Unterminated group',
      '10: services.web.traffic.rules.1.match.userAgent: nested quantifier can backtrack catastrophically: "(a+)+" (don\'t repeat a group that itself repeats or has alternatives starting alike)',
      '12: services.web.traffic.rules.2.match.query.q.regex: nested quantifier can backtrack catastrophically: "(a|aa)+" (don\'t repeat a group that itself repeats or has alternatives starting alike)',
      '14: services.web.traffic.rules.3.match.userAgent: invalid regular expression: Invalid group (inline flags: only a leading "(?i)" is supported)',
      '16: services.web.traffic.rules.4.match.userAgent: must be a regular expression (a string), got 5',
    ]);
  });

  test('traffic must be a mapping; rules a list', () => {
    assert.deepEqual(
      where(issues('services:\n  web:\n    version: v1\n    run: { command: x }\n    traffic: [1]\n')),
      ['5: services.web.traffic'],
    );
    assert.match(issues(svc('rules: { to: canary }'))[0].message, /must be a list of rules/);
    assert.deepEqual(where(issues(svc('rule: []'))), ['7: services.web.traffic.rule']);
  });

  test('validateService checks traffic too', () => {
    const r = validateService(
      'web',
      { version: 'v1', run: { command: 'x' }, traffic: { stickyBy: 'ip:x' } },
      '/',
    );
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.deepEqual(
        r.issues.map((i) => i.path),
        ['services.web.traffic.stickyBy'],
      );
  });
});

describe('validateTraffic (runtime)', () => {
  test('accepts the same shape as the file and normalizes it', () => {
    const r = validateTraffic({
      stickyBy: 'header:X-User',
      rules: [
        { match: { header: { 'X-Beta': 'yes' }, userIn: ['u1'] }, to: 'canary' },
        { match: { userAgent: '(?i)bot' }, to: 'stable' },
      ],
    });
    assert.deepEqual(r, {
      ok: true,
      traffic: {
        stickyBy: { source: 'header', name: 'x-user' },
        rules: [
          { match: { header: { 'x-beta': { exact: 'yes' } }, userIn: ['u1'] }, to: 'canary' },
          { match: { userAgent: '(?i)bot' }, to: 'stable' },
        ],
      },
    });
  });

  test('empty or missing means no sticky key and no rules', () => {
    assert.deepEqual(validateTraffic({}), { ok: true, traffic: { rules: [] } });
    assert.deepEqual(validateTraffic(undefined), { ok: true, traffic: { rules: [] } });
    assert.deepEqual(validateTraffic({ rules: [] }), { ok: true, traffic: { rules: [] } });
  });

  test('issues carry the path prefix and no lines', () => {
    const bad = { rules: [{ match: { userIn: ['a'], userAgent: '(.*)*' }, to: 'both' }], extra: 1 };
    const r = validateTraffic(bad);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.issues.map((i) => i.path),
      [
        'traffic.extra',
        'traffic.rules.0.match.userIn',
        'traffic.rules.0.match.userAgent',
        'traffic.rules.0.to',
      ],
    );
    assert.ok(r.issues.every((i) => i.line === undefined));
    const body = validateTraffic(bad, 'body');
    assert.ok(!body.ok && body.issues.every((i) => i.path.startsWith('body.')));
    const bare = validateTraffic({ rules: 'x', 'x-a': 1 }, '');
    assert.ok(!bare.ok);
    if (!bare.ok)
      assert.deepEqual(
        bare.issues.map((i) => i.path),
        ['x-a', 'rules'],
      );
  });

  test('non-objects are rejected', () => {
    for (const raw of ['x', 5, [], true]) {
      const r = validateTraffic(raw);
      assert.equal(r.ok, false, JSON.stringify(raw));
      if (!r.ok) assert.equal(r.issues[0].path, 'traffic');
    }
  });

  test('hostile keys do not pollute prototypes', () => {
    const raw = JSON.parse(
      '{"rules":[{"match":{"header":{"__proto__":"x"},"cookie":{"__proto__":"y"}},"to":"canary"}]}',
    );
    const r = validateTraffic(raw);
    assert.ok(r.ok);
    if (r.ok) {
      assert.deepEqual(Object.keys(r.traffic.rules[0].match.header ?? {}), ['__proto__']);
      assert.equal(({} as Record<string, unknown>).exact, undefined);
    }
  });
});

describe('validateWeight', () => {
  test('accepts 0..100, fractions, numeric strings and "N%"', () => {
    for (const [raw, w] of [
      [0, 0],
      [100, 100],
      [12.5, 12.5],
      ['25', 25],
      ['12.5%', 12.5],
      [' 7 % ', 7],
      [-0, 0],
    ] as const) {
      assert.deepEqual(validateWeight(raw), { ok: true, weight: w }, String(raw));
    }
  });

  test('rejects everything else with path "weight"', () => {
    for (const raw of [
      -1,
      100.01,
      101,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '',
      'ten',
      '10%%',
      '1e2',
      null,
      undefined,
      {},
      [],
      true,
    ]) {
      const r = validateWeight(raw);
      assert.equal(r.ok, false, String(raw));
      if (!r.ok) {
        assert.equal(r.issues.length, 1);
        assert.equal(r.issues[0].path, 'weight');
        assert.match(r.issues[0].message, /must be a percentage between 0 and 100/);
      }
    }
  });
});
