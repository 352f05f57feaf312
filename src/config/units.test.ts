import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, parseDuration, tryParseDuration } from './duration.ts';
import { formatSize, parseSize, tryParseSize } from './size.ts';
import { checkIntOrPercent } from './strategy.ts';

describe('durations', () => {
  const valid: [string, number][] = [
    ['500ms', 500],
    ['0ms', 0],
    ['0s', 0],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['.5s', 500],
    [' 10s ', 10_000],
  ];
  for (const [input, ms] of valid) {
    test(`parses ${JSON.stringify(input)} as ${ms}ms`, () => {
      assert.equal(parseDuration(input), ms);
    });
  }

  const invalid: [unknown, RegExp][] = [
    ['10', /not a bare number.*ms, s, m, h/],
    [10, /not a bare number.*ms, s, m, h/],
    ['', /must be a duration/],
    ['10 s', /must be a duration/],
    ['10sec', /must be a duration/],
    ['-5s', /must be a duration/],
    ['30s1m', /largest to smallest/],
    ['1s1s', /largest to smallest/],
    ['1w', /must be a duration/],
    [true, /must be a duration/],
    [null, /must be a duration/],
  ];
  for (const [input, error] of invalid) {
    test(`rejects ${JSON.stringify(input)} with a message naming the units`, () => {
      const r = tryParseDuration(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, error);
    });
  }

  test('parseDuration throws a descriptive error', () => {
    assert.throws(() => parseDuration('10'), /invalid duration "10": .*unit/);
  });

  const formatted: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [10_000, '10s'],
    [90_000, '1m30s'],
    [3_723_004, '1h2m3s4ms'],
  ];
  for (const [ms, text] of formatted) {
    test(`formats ${ms}ms as ${text} and parses it back`, () => {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms);
    });
  }
});

describe('sizes', () => {
  const valid: [string | number, number][] = [
    [512, 512],
    ['512', 512],
    ['0', 0],
    ['512B', 512],
    ['64KB', 64 * 1024],
    ['64kb', 64 * 1024],
    ['64K', 64 * 1024],
    ['64KiB', 64 * 1024],
    ['10MB', 10 * 1024 * 1024],
    ['1GB', 1024 ** 3],
    ['1TB', 1024 ** 4],
    ['1.5MB', 1.5 * 1024 * 1024],
    ['10 MB', 10 * 1024 * 1024],
  ];
  for (const [input, bytes] of valid) {
    test(`parses ${JSON.stringify(input)} as ${bytes} bytes`, () => {
      assert.equal(parseSize(input), bytes);
    });
  }
  for (const input of ['10XB', '', 'MB', '-1', -1, 1.5, '1e3', true, null, {}]) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      const r = tryParseSize(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, /must be a size.*KB, MB/);
    });
  }
  test('formats bytes with the largest exact unit', () => {
    assert.deepEqual([512, 65536, 10485760, 1536].map(formatSize), ['512', '64KB', '10MB', '1536']);
  });
});

describe('int-or-percent', () => {
  const cases: [unknown, number, IntOrPct][] = [
    [0, 100, { value: 0, isZero: true }],
    [3, 100, { value: 3, isZero: false }],
    ['25%', 100, { value: '25%', isZero: false }],
    ['0%', 100, { value: '0%', isZero: true }],
    ['100%', 100, { value: '100%', isZero: false }],
    ['150%', Number.MAX_SAFE_INTEGER, { value: '150%', isZero: false }],
    ['150%', 100, /between 0% and 100%/],
    [-1, 100, /integer >= 0 or a percentage like "25%"/],
    [1.5, 100, /integer >= 0 or a percentage like "25%"/],
    ['3', 100, /integer >= 0 or a percentage like "25%"/],
    ['12.5%', 100, /integer >= 0 or a percentage like "25%"/],
    ['-5%', 100, /integer >= 0 or a percentage like "25%"/],
    ['%', 100, /integer >= 0 or a percentage like "25%"/],
    [null, 100, /integer >= 0 or a percentage like "25%"/],
    [true, 100, /integer >= 0 or a percentage like "25%"/],
  ];
  type IntOrPct = { value: number | string; isZero: boolean } | RegExp;
  for (const [input, max, expected] of cases) {
    test(`${JSON.stringify(input)} (max ${max === 100 ? '100%' : 'unbounded'}) -> ${expected instanceof RegExp ? 'error' : JSON.stringify(expected.value)}`, () => {
      const r = checkIntOrPercent(input, max);
      if (expected instanceof RegExp) {
        assert.equal(r.ok, false);
        if (!r.ok) assert.match(r.error, expected);
      } else {
        assert.deepEqual(r, { ok: true, ...expected });
      }
    });
  }
});

test('days are a duration unit (hsts: 180d)', () => {
  assert.deepEqual(tryParseDuration('180d'), { ok: true, ms: 180 * 86_400_000 });
  assert.deepEqual(tryParseDuration('1d12h'), { ok: true, ms: 36 * 3_600_000 });
});
