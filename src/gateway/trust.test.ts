import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trustMatcher } from './trust.ts';

test('trustMatcher: remembered answers stay right, for repeated peers and past the cache size', () => {
  const trusted = trustMatcher(['10.0.0.0/8', '::1']);
  for (let round = 0; round < 2; round++) {
    assert.equal(trusted('10.1.2.3'), true);
    assert.equal(trusted('::ffff:10.1.2.3'), true);
    assert.equal(trusted('::1'), true);
    assert.equal(trusted('192.168.0.1'), false);
    assert.equal(trusted('not an address'), false);
    assert.equal(trusted(undefined), false);
  }
  // More distinct peers than it remembers: it starts over and still answers the same.
  for (let i = 0; i < 5000; i++) assert.equal(trusted(`11.0.${i >> 8}.${i & 255}`), false);
  assert.equal(trusted('10.1.2.3'), true);
  assert.equal(trusted('192.168.0.1'), false);
  assert.equal(trustMatcher(undefined)('10.1.2.3'), false);
});
