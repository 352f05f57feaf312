import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issues, parseOk } from './test-helpers.ts';

const config = (strategy: string, gate: string) => `
services:
  web:
    version: v1
    run: { command: "./server" }
    strategy: ${strategy}
    analysis:
      ${gate}
      metrics:
        - { name: errors, errorRate: { maxIncreaseOver: stable, by: 0.02 } }
`;

test('analysis.gate: everyBatch or background on a rolling service', () => {
  assert.equal(
    parseOk(config('{ type: rolling }', 'gate: background')).services.web.analysis?.gate,
    'background',
  );
  assert.equal(
    parseOk(config('{ type: rolling }', '')).services.web.analysis?.gate,
    undefined,
    'default: everyBatch',
  );
  const bad = issues(config('{ type: rolling }', 'gate: sometimes'));
  assert.deepEqual(
    bad.map((i) => i.path),
    ['services.web.analysis.gate'],
  );
  assert.match(bad[0].message, /everyBatch or background/);
});

test('analysis.gate on a canary or blue-green service is an error naming the key', () => {
  for (const strategy of ['{ type: blueGreen }', '{ type: canary, steps: [{ setWeight: 50 }] }']) {
    const is = issues(config(strategy, 'gate: everyBatch'));
    assert.ok(is.length > 0, strategy);
    assert.deepEqual(
      is.map((i) => i.path),
      ['services.web.analysis.gate'],
      strategy,
    );
    assert.match(is[0].message, /applies only to strategy rolling/);
  }
});
