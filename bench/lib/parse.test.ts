import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHey, parseWrk, wrkDurationMs } from './parse.ts';

const WRK = `Running 2s test @ http://127.0.0.1:18080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   277.96us  312.73us   6.08ms   95.89%
    Req/Sec   148.39k    25.89k  169.69k    90.00%
  Latency Distribution
     50%  197.00us
     75%  296.00us
     90%  400.00us
     99%    1.23ms
  294976 requests in 2.00s, 41.91MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec: 147355.38
Transfer/sec:     20.94MB
`;

const HEY = `
Summary:
  Total:\t2.0092 secs
  Slowest:\t0.0068 secs
  Fastest:\t0.0000 secs
  Average:\t0.0004 secs
  Requests/sec:\t1990.8014

Latency distribution:
  10% in 0.0001 secs
  25% in 0.0001 secs
  50% in 0.0002 secs
  75% in 0.0004 secs
  90% in 0.0008 secs
  95% in 0.0010 secs
  99% in 0.0037 secs

Status code distribution:
  [200]\t3990 responses
  [502]\t8 responses

Error distribution:
  [2]\tGet "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused

`;

test('wrk durations in all units', () => {
  assert.equal(wrkDurationMs('197.00us'), 0.197);
  assert.equal(wrkDurationMs('1.23ms'), 1.23);
  assert.equal(wrkDurationMs('1.50s'), 1500);
  assert.equal(wrkDurationMs('2.00m'), 120_000);
  assert.equal(wrkDurationMs('n/a'), null);
});

test('parseWrk reads rate, percentiles and every kind of error', () => {
  const r = parseWrk(WRK);
  assert.equal(r.rps, 147355.38);
  assert.equal(r.requests, 294976);
  assert.equal(r.durationS, 2);
  assert.equal(r.p50Ms, 0.197);
  assert.equal(r.p99Ms, 1.23);
  assert.deepEqual(r.socketErrors, { connect: 1, read: 2, write: 3, timeout: 4 });
  assert.equal(r.non2xx, 5);
  assert.equal(r.errors, 15);
});

test('parseWrk without errors', () => {
  const clean = WRK.replace(/ {2}Socket errors.*\n/, '').replace(/ {2}Non-2xx.*\n/, '');
  const r = parseWrk(clean);
  assert.equal(r.errors, 0);
});

test('parseWrk rejects unrelated output', () => {
  assert.throws(() => parseWrk('Usage: wrk <options> <url>'), /unrecognised wrk output/);
});

test('parseHey reads rate, percentiles, statuses and transport errors', () => {
  const r = parseHey(HEY);
  assert.equal(r.rps, 1990.8014);
  assert.equal(r.p50Ms, 0.2);
  assert.equal(r.p99Ms, 3.7);
  assert.deepEqual(r.statuses, { '200': 3990, '502': 8 });
  assert.equal(r.requests, 4000);
  assert.equal(r.errors, 10);
  assert.equal(r.errorSamples.length, 1);
  assert.match(r.errorSamples[0], /^2x Get .*connection refused$/);
});

test('parseHey when every request failed has no percentiles', () => {
  const out = `Summary:\n  Requests/sec:\t0.9\n\nStatus code distribution:\n\nError distribution:\n  [2]\tdial tcp: refused\n`;
  const r = parseHey(out);
  assert.equal(r.p99Ms, null);
  assert.equal(r.errors, 2);
  assert.equal(r.requests, 2);
});
