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
      },
      { name: 'a', host: '*', pathPrefix: '/', balance: 'fastest', upstreams: 'none' },
    ],
  });
  assert.ok(!('table' in r));
  assert.deepEqual(r.errors, [
    'version must be a non-negative integer',
    'services[0] ("a").upstreams[0].address must be "host:port" (got "nope")',
    'services[1].name "a" appears twice',
    'services[1] ("a") has the same host and pathPrefix as service "a"',
    'services[1] ("a").balance must be "roundRobin" or "leastInFlight"',
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
