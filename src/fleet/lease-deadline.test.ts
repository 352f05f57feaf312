import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepAliveIntervalMs, localLeaseDeadline } from './lease-deadline.ts';

test('the local lease deadline is the renewal send time plus the TTL less a quarter of it', () => {
  const cases: Array<[sentAt: number, ttl: number, deadline: number]> = [
    [0, 2, 1500],
    [1_000_000, 10, 1_007_500],
    [5000, 1, 5750],
    [5000, 0, 5000],
  ];
  assert.ok(cases.length > 0);
  for (const [sentAt, ttl, deadline] of cases)
    assert.equal(localLeaseDeadline(sentAt, ttl), deadline, `sent ${sentAt}, ttl ${ttl}`);
});

test('keepalives go out three times per TTL, never at a zero interval', () => {
  const cases: Array<[ttl: number, ms: number]> = [
    [2, 666],
    [3, 1000],
    [0, 1],
  ];
  assert.ok(cases.length > 0);
  for (const [ttl, ms] of cases) assert.equal(keepAliveIntervalMs(ttl), ms, `ttl ${ttl}`);
});
