import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  h2loadLogLatenciesMs,
  parseH2load,
  parseHandshakes,
  parseHey,
  parseWrk,
  percentileOf,
  wrkDurationMs,
} from './parse.ts';

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

const H2LOAD = `starting benchmark...
spawning thread #0: 16 total client(s). 2000 total requests
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
progress: 100% done

finished in 462.49ms, 4324.41 req/s, 288.82KB/s
requests: 2000 total, 2000 started, 2000 done, 1990 succeeded, 10 failed, 4 errored, 1 timeout
status codes: 1990 2xx, 0 3xx, 0 4xx, 6 5xx
traffic: 133.58KB (136784) total, 93.75KB (96000) headers (space savings 51.02%), 3.91KB (4000) data
                     min         max         mean         sd        +/- sd
time for request:     6.88ms     65.11ms     27.01ms     11.86ms    83.30%
time for connect:    24.32ms     92.32ms     74.77ms     18.80ms    87.50%
time to 1st byte:   121.39ms    157.33ms    138.80ms      8.13ms    81.25%
req/s           :     274.25      302.26      285.87        7.25    81.25%
`;

test('parseH2load reads rate, duration, statuses and failures from the report', () => {
  const r = parseH2load(H2LOAD, '');
  assert.equal(r.rps, 4324.41);
  assert.equal(r.durationS, 0.46249);
  assert.equal(r.requests, 2000);
  assert.equal(r.succeeded, 1990);
  assert.equal(r.errors, 10);
  assert.deepEqual(r.statuses, { '2xx': 1990, '3xx': 0, '4xx': 0, '5xx': 6 });
  assert.equal(r.p99Ms, null);
  assert.deepEqual(r.tls, {
    protocol: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    tempKey: 'X25519 253 bits',
    alpn: 'h2',
  });
});

test('parseH2load takes latency percentiles from the per-request log, leaving out unanswered requests', () => {
  // 100 answered requests taking 1..100 ms (shuffled), plus one that never got a response.
  const lines = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1).map(
    (ms, i) => `${1796196898342927 + i}\t200\t${ms * 1000}`,
  );
  lines.push('1796196898343999\t-1\t0');
  const r = parseH2load(H2LOAD, `${lines.join('\n')}\n`);
  assert.equal(r.p50Ms, 50);
  assert.equal(r.p90Ms, 90);
  assert.equal(r.p99Ms, 99);
  const all = h2loadLogLatenciesMs(lines.join('\n'));
  assert.equal(all.length, 100);
  assert.equal(all[0], 1);
});

test('parseH2load when nothing connected counts every request as failed', () => {
  const out = `finished in 19.66ms, 0.00 req/s, 0B/s
requests: 10 total, 0 started, 0 done, 0 succeeded, 10 failed, 10 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
`;
  const r = parseH2load(out, '');
  assert.equal(r.rps, 0);
  assert.equal(r.errors, 10);
  assert.equal(r.p50Ms, null);
  assert.equal(r.tls.protocol, null);
  assert.throws(() => parseH2load('Usage: h2load [OPTIONS]... [URI]...', ''), /unrecognised h2load output/);
});

test('percentileOf is nearest-rank', () => {
  assert.equal(percentileOf([], 99), null);
  assert.equal(percentileOf([5], 99), 5);
  assert.equal(percentileOf([1, 2, 3, 4], 50), 2);
  assert.equal(percentileOf([1, 2, 3, 4], 99), 4);
});

test('parseHandshakes reads the generator JSON line and rejects anything else', () => {
  const r = parseHandshakes(
    'noise\n{"connections":337,"errors":2,"durationS":2.5,"rate":134.8,"p50Ms":16.7,"p99Ms":34.5,"errorSamples":["timeout"]}\n',
  );
  assert.equal(r.rate, 134.8);
  assert.equal(r.connections, 337);
  assert.equal(r.errors, 2);
  assert.equal(r.p99Ms, 34.5);
  assert.deepEqual(r.errorSamples, ['timeout']);
  assert.throws(() => parseHandshakes('handshake-load: boom'), /unrecognised handshake-load output/);
  assert.throws(() => parseHandshakes('{"errors":1}'), /unrecognised handshake-load output/);
});
