import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHeyCsv } from './hey-csv.ts';

const HEAD = 'response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset';

test('p50, p99 and p99.9 are nearest-rank over every response', () => {
  // 1000 responses of 1..1000 tenths of a ms, shuffled: p99.9 is the 999th, p99 the 990th.
  const order = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) + 1);
  const rows = order.map(
    (t, i) => `${(t / 10000).toFixed(4)},0.0001,0.0000,0.0000,0.0001,0.0000,200,${i / 100}`,
  );
  const r = parseHeyCsv([HEAD, ...rows].join('\n') + '\n', 2);
  assert.equal(r.requests, 1000);
  assert.equal(r.rps, 500);
  assert.equal(r.p50Ms, 50);
  assert.equal(r.p99Ms, 99);
  assert.equal(r.p999Ms, 99.9);
  assert.deepEqual(r.statuses, { '200': 1000 });
  assert.equal(r.errors, 0);
});

test('non-2xx responses are counted as errors and kept in the latencies', () => {
  const rows = [
    '0.0010,0.0002,0.0000,0.0000,0.0008,0.0000,200,0.1',
    '0.0020,0.0000,0.0000,0.0000,0.0020,0.0000,429,0.2',
    '0.0030,0.0000,0.0000,0.0000,0.0030,0.0000,502,0.3',
    '0.0040,0.0000,0.0000,0.0000,0.0040,0.0000,429,0.4',
  ];
  const r = parseHeyCsv(`${HEAD}\n${rows.join('\n')}\n`, 1);
  assert.equal(r.requests, 4);
  assert.equal(r.errors, 3);
  assert.deepEqual(r.statuses, { '200': 1, '429': 2, '502': 1 });
  assert.deepEqual(r.errorSamples, ['2x status 429', '1x status 502']);
  assert.equal(r.p999Ms, 4);
});

test('no responses: null percentiles, zero rate', () => {
  const r = parseHeyCsv(`${HEAD}\n`, 5);
  assert.equal(r.requests, 0);
  assert.equal(r.p99Ms, null);
  assert.equal(r.p999Ms, null);
  assert.equal(r.rps, 0);
});

test('output without the CSV header is refused', () => {
  assert.throws(() => parseHeyCsv('Summary:\n  Total: 1 secs\n', 1), /unrecognised hey csv/);
});
