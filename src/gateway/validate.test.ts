import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddress, validateRouteTable } from './validate.ts';

const good = {
  version: 3,
  services: [
    {
      name: 'web',
      host: '*',
      pathPrefix: '/',
      balance: 'roundRobin',
      upstreams: [{ instance: 'web-1', revision: 1, version: 'v1', address: '127.0.0.1:3000' }],
    },
  ],
};

test('a well-formed table is accepted as is', () => {
  const r = validateRouteTable(good);
  assert.ok('table' in r);
  assert.equal(r.table, good);
});

test('problems are reported with their location', () => {
  const r = validateRouteTable({
    version: -1,
    services: [
      {
        name: 'a',
        host: '*',
        pathPrefix: '/',
        balance: 'roundRobin',
        upstreams: [{ instance: 'x', revision: 1, version: 'v', address: 'nope' }],
        longLivedTo: 0,
      },
      { name: 'a', host: '*', pathPrefix: '/', balance: 'fastest', upstreams: 'none' },
    ],
  });
  assert.ok(!('table' in r));
  assert.deepEqual(r.errors, [
    'version must be a non-negative integer',
    'services[0] ("a").longLivedTo must be a revision number >= 1',
    'services[0] ("a").upstreams[0].address must be "host:port" (got "nope")',
    'services[1].name "a" appears twice',
    'services[1] ("a") has the same host and pathPrefix as service "a"',
    'services[1] ("a").balance must be one of roundRobin, leastInFlight, random, p2c, hash',
    'services[1] ("a").upstreams must be an array',
  ]);
  assert.deepEqual(validateRouteTable([]).errors, [
    'body must be a JSON object {"version":N,"services":[...]}',
  ]);
});

test('parseAddress accepts host:port and [v6]:port only', () => {
  assert.deepEqual(parseAddress('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  assert.deepEqual(parseAddress('[::1]:8080'), { host: '::1', port: 8080 });
  assert.equal(parseAddress('localhost'), undefined);
  assert.equal(parseAddress('a:0'), undefined);
  assert.equal(parseAddress('a:65536'), undefined);
  assert.equal(parseAddress(':80'), undefined);
});

function withTraffic(traffic: unknown, role: unknown = 'canary') {
  const svc = good.services[0];
  return {
    version: 1,
    services: [
      {
        ...svc,
        upstreams: [
          { ...svc.upstreams[0], role: 'stable' },
          { instance: 'web-2', revision: 2, version: 'v2', address: '127.0.0.1:3001', role },
        ],
        traffic,
      },
    ],
  };
}

test('role and traffic are accepted when well-formed', () => {
  const traffic = {
    canaryWeight: 12.5,
    stickyBy: { source: 'cookie', name: 'uid' },
    rules: [
      { match: { header: { 'X-Beta': { exact: 'on' } }, query: { c: { prefix: '1' } } }, to: 'canary' },
      { match: { userIn: ['alice'] }, to: 'canary' },
      { match: { userAgent: '(?i)iphone|android' }, to: 'stable' },
      { match: { cookie: { team: { regex: '^qa-\\d+$' } } }, to: 'canary' },
    ],
    preview: { header: 'X-Preview', value: '1' },
    mirror: { percent: 5, methods: ['GET'], pathPrefix: '/api', maxBodyBytes: 0 },
  };
  const r = validateRouteTable(withTraffic(traffic));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(validateRouteTable(withTraffic({ canaryWeight: 0, rules: [] }, 'preview')).errors, []);
});

test('traffic problems are reported with their path; bad patterns reject the table', () => {
  const r = validateRouteTable(
    withTraffic(
      {
        canaryWeight: 101,
        stickyBy: { source: 'body', name: '' },
        rules: [
          { match: {}, to: 'canary' },
          { match: { header: { 'X-A': { regex: '(a+)+' } } }, to: 'blue' },
          { match: { userAgent: '([' }, to: 'canary' },
          { match: { cookie: { c: { exact: 1 } }, headers: {} }, to: 'canary' },
          { match: { query: { q: { exact: 'a', prefix: 'b' } } }, to: 'canary' },
        ],
        preview: { header: 'bad header', value: 1 },
        mirror: { percent: -1, maxBodyBytes: 1.5, methods: 'GET', pathPrefix: 'api' },
      },
      'green',
    ),
  );
  const at = 'services[0] ("web")';
  assert.deepEqual(r.errors, [
    `${at}.upstreams[1].role must be "stable", "canary" or "preview" (got "green")`,
    `${at}.traffic.canaryWeight must be a number from 0 to 100`,
    `${at}.traffic.stickyBy.source must be "header", "cookie" or "query"`,
    `${at}.traffic.stickyBy.name must be a non-empty string`,
    `${at}.traffic.rules[0].match must have at least one condition`,
    `${at}.traffic.rules[1].to must be "stable" or "canary"`,
    `${at}.traffic.rules[1].match.header["X-A"].regex: nested quantifier can backtrack catastrophically: "(a+)+" (don't repeat a group that itself repeats or has alternatives starting alike)`,
    `${at}.traffic.rules[2].match.userAgent: invalid regular expression: Unterminated character class`,
    `${at}.traffic.rules[3].match: unknown field "headers"`,
    `${at}.traffic.rules[3].match.cookie["c"].exact must be a string`,
    `${at}.traffic.rules[4].match.query["q"] must be {"exact":S}, {"prefix":S} or {"regex":S}`,
    `${at}.traffic.preview.header must be a header name`,
    `${at}.traffic.preview.value must be a string`,
    `${at}.traffic.mirror.percent must be a number from 0 to 100`,
    `${at}.traffic.mirror.maxBodyBytes must be an integer >= 0`,
    `${at}.traffic.mirror.methods must be an array of method names`,
    `${at}.traffic.mirror.pathPrefix must be a string starting with "/"`,
  ]);
  assert.deepEqual(
    validateRouteTable(withTraffic({ canaryWeight: 5, rules: [{ match: { userIn: ['a'] }, to: 'canary' }] }))
      .errors,
    [
      'services[0] ("web").traffic.rules[0].match.userIn needs traffic.stickyBy (the key it is compared with)',
    ],
  );
  assert.deepEqual(validateRouteTable(withTraffic('all')).errors, [
    'services[0] ("web").traffic must be an object',
  ]);
});
