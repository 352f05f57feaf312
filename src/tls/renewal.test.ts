import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RETRY_CAP_MS, RETRY_FLOOR_MS, RETRY_JITTER, renewAt, retryDelayMs } from './renewal.ts';

const DAY_MS = 86_400_000;

describe('renewAt', () => {
  const table: Array<[string, number, number, number]> = [
    ['90-day certificate: 30 days before expiry', 0, 90 * DAY_MS, 60 * DAY_MS],
    ['6-day certificate: 2 days before expiry', 10 * DAY_MS, 16 * DAY_MS, 14 * DAY_MS],
    ['zero lifetime: at expiry', 5, 5, 5],
    ['inverted window: at expiry', 10, 5, 5],
  ];
  for (const [name, notBefore, notAfter, expected] of table) {
    test(name, () => assert.equal(renewAt(notBefore, notAfter), expected));
  }
});

describe('retryDelayMs', () => {
  const table: Array<[string, number, number, number]> = [
    ['no failure: no wait', 0, 0, 0],
    ['first failure, no jitter: the floor', 1, 0, RETRY_FLOOR_MS],
    ['first failure, full jitter: still the floor', 1, 0.999, RETRY_FLOOR_MS],
    ['second failure: twice the floor', 2, 0, 2 * RETRY_FLOOR_MS],
    ['third failure, half jitter', 3, 0.5, 4 * RETRY_FLOOR_MS * (1 - RETRY_JITTER / 2)],
    ['tenth failure: the cap', 10, 0, RETRY_CAP_MS],
    ['tenth failure, full jitter: under the cap', 10, 1, RETRY_CAP_MS * (1 - RETRY_JITTER)],
    ['ten thousand failures: the cap, finite', 10_000, 0, RETRY_CAP_MS],
  ];
  for (const [name, failures, random, expected] of table) {
    test(name, () =>
      assert.equal(
        retryDelayMs(failures, () => random),
        Math.round(expected),
      ),
    );
  }

  test('a custom policy sets floor and cap', () => {
    const policy = { floorMs: 100, capMs: 250 };
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => retryDelayMs(n, () => 0, policy)),
      [100, 200, 250, 250],
    );
  });

  test('delays never decrease with failures at a fixed random', () => {
    const delays = Array.from({ length: 20 }, (_, i) => retryDelayMs(i + 1, () => 0.3));
    assert.ok(delays.length > 0);
    for (let i = 1; i < delays.length; i++) assert.ok(delays[i] >= delays[i - 1], `at ${i}`);
  });
});
