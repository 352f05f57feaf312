import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeHost, Router } from './router.ts';

test('longest segment-aware path prefix wins, exact host before wildcard', () => {
  const r = new Router([
    { host: '*', pathPrefix: '/', value: 'root' },
    { host: '*', pathPrefix: '/api', value: 'api' },
    { host: '*', pathPrefix: '/api/v2/', value: 'v2' },
    { host: 'Shop.Example.com', pathPrefix: '/', value: 'shop' },
    { host: 'shop.example.com', pathPrefix: '/cart', value: 'cart' },
  ]);
  assert.equal(r.match('x', '/'), 'root');
  assert.equal(r.match('x', '/api'), 'api');
  assert.equal(r.match('x', '/api/'), 'api');
  assert.equal(r.match('x', '/api?q=1'), 'api');
  assert.equal(r.match('x', '/apix'), 'root');
  assert.equal(r.match('x', '/api/v2/users'), 'v2');
  assert.equal(r.match('x', '/api/v2'), 'api', '"/api/v2/" needs the slash');
  assert.equal(r.match('SHOP.example.com:8080', '/cart/1'), 'cart');
  assert.equal(r.match('shop.example.com.', '/api'), 'shop', 'exact-host routes shadow wildcard ones');
  assert.equal(r.match(undefined, '/api'), 'api');
});

test('no match without a wildcard route', () => {
  const r = new Router([{ host: 'a.test', pathPrefix: '/x', value: 1 }]);
  assert.equal(r.match('a.test', '/y'), undefined);
  assert.equal(r.match('b.test', '/x'), undefined);
  assert.equal(r.match('a.test', '/x/'), 1);
});

test('normalizeHost strips port and case, keeps IPv6 literals', () => {
  assert.equal(normalizeHost('Example.COM:80'), 'example.com');
  assert.equal(normalizeHost('[::1]:8080'), '[::1]');
  assert.equal(normalizeHost('example.com.'), 'example.com');
  assert.equal(normalizeHost('plain'), 'plain');
});
