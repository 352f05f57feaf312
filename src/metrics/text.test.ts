import assert from 'node:assert/strict';
import { test } from 'node:test';
import { family, histogramSamples, writeExposition } from './text.ts';

test('families: HELP and TYPE, samples, a blank line between families, escaped help and label values', () => {
  const a = family('a_total', 'counter', 'Help with \\ and\nnewline.');
  a.samples.push({ labels: { service: 'web', version: 'v"1\\\n' }, value: 3 });
  a.samples.push({ labels: { service: 'api', revision: 7 }, value: 0 });
  const b = family('b', 'gauge', 'No samples.');
  const c = family('c', 'gauge', 'Unlabelled.');
  c.samples.push({ labels: {}, value: Number.POSITIVE_INFINITY });
  assert.equal(
    writeExposition([a, b, c]),
    [
      '# HELP a_total Help with \\\\ and\\nnewline.',
      '# TYPE a_total counter',
      'a_total{service="web",version="v\\"1\\\\\\n"} 3',
      'a_total{service="api",revision="7"} 0',
      '',
      '# HELP b No samples.',
      '# TYPE b gauge',
      '',
      '# HELP c Unlabelled.',
      '# TYPE c gauge',
      'c +Inf',
      '',
    ].join('\n'),
  );
});

test('histogram: cumulative buckets, +Inf equals the count, then sum and count', () => {
  const h = family('d_seconds', 'histogram', 'Durations.');
  h.samples.push(
    ...histogramSamples([0.1, 1], { labels: { service: 'web' }, buckets: [2, 3, 1], sum: 1.5, count: 6 }),
  );
  assert.deepEqual(writeExposition([h]).split('\n').slice(2), [
    'd_seconds_bucket{service="web",le="0.1"} 2',
    'd_seconds_bucket{service="web",le="1"} 5',
    'd_seconds_bucket{service="web",le="+Inf"} 6',
    'd_seconds_sum{service="web"} 1.5',
    'd_seconds_count{service="web"} 6',
    '',
  ]);
});
