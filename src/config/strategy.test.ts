import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { indent, issues, lines, parseOk, where } from './test-helpers.ts';
import type { ServiceConfig, StrategyConfig } from './types.ts';

const svc = (strategy: string, extra = '') =>
  `services:\n  web:\n    version: v1\n    replicas: 3\n    run: { command: x }\n${extra}    strategy:\n${indent(strategy, '      ')}\n`;

const web = (text: string): ServiceConfig => parseOk(text).services.web;

describe('strategy: blueGreen', () => {
  test('every key parses into exactly the expected object', () => {
    const s = web(
      svc(`
type: blueGreen
previewReplicas: 4
autoPromote: true
autoPromoteAfter: 1m
scaleDownDelay: 10s
preview: { header: "X-Cutover-Preview: true" }
progressDeadline: 2m
`),
    );
    const expected: StrategyConfig = {
      type: 'blueGreen',
      previewReplicas: 4,
      autoPromote: true,
      autoPromoteAfterMs: 60_000,
      scaleDownDelayMs: 10_000,
      preview: { header: 'x-cutover-preview', value: 'true' },
      progressDeadlineMs: 120_000,
    };
    assert.deepEqual(s.strategy, expected);
  });

  test('defaults: previewReplicas = replicas, no preview header', () => {
    const expected: StrategyConfig = {
      type: 'blueGreen',
      previewReplicas: 3,
      autoPromote: false,
      autoPromoteAfterMs: 0,
      scaleDownDelayMs: 30_000,
      progressDeadlineMs: 60_000,
    };
    assert.deepEqual(web(svc('type: blueGreen')).strategy, expected);
  });

  test('bad values', () => {
    const is = issues(
      svc(`
type: blueGreen
previewReplicas: 0
autoPromote: "yes"
scaleDownDelay: 5
preview: { header: "no colon" }
`),
    );
    assert.deepEqual(where(is), [
      '8: services.web.strategy.previewReplicas',
      '9: services.web.strategy.autoPromote',
      '10: services.web.strategy.scaleDownDelay',
      '11: services.web.strategy.preview.header',
    ]);
    assert.match(is[3].message, /must be "Name: value", e.g. "X-Cutover-Preview: true"/);
  });

  test('preview header: invalid names and missing values', () => {
    for (const h of ['"X Bad: 1"', '"X-Preview:"', '": v"', '42']) {
      const is = issues(svc(`type: blueGreen\npreview: { header: ${h} }`));
      assert.deepEqual(where(is), ['8: services.web.strategy.preview.header'], h);
    }
    const missing = issues(svc('type: blueGreen\npreview: { name: X-P }'));
    assert.deepEqual(where(missing), [
      '8: services.web.strategy.preview.name',
      '8: services.web.strategy.preview.header',
    ]);
  });
});

describe('strategy: canary', () => {
  test('every key and step kind parses into exactly the expected object', () => {
    const s = web(
      svc(`
type: canary
canaryReplicas: 50%
progressDeadline: 90s
mirrorMaxBodySize: 1MB
steps:
  - mirror: { percent: 20, methods: [GET, head], pathPrefix: /api }
  - setWeight: 10
  - pause: {}
  - setWeight: 12.5
  - pause: { duration: 2m }
  - pause:
  - mirror: { percent: 100 }
  - setWeight: 100
`),
    );
    const expected: StrategyConfig = {
      type: 'canary',
      canaryReplicas: '50%',
      progressDeadlineMs: 90_000,
      mirrorMaxBodyBytes: 1024 * 1024,
      steps: [
        { mirror: { percent: 20, methods: ['GET', 'HEAD'], pathPrefix: '/api' } },
        { setWeight: 10 },
        { pause: {} },
        { setWeight: 12.5 },
        { pause: { durationMs: 120_000 } },
        { pause: {} },
        { mirror: { percent: 100 } },
        { setWeight: 100 },
      ],
    };
    assert.deepEqual(s.strategy, expected);
  });

  test('defaults', () => {
    const expected: StrategyConfig = {
      type: 'canary',
      canaryReplicas: 1,
      progressDeadlineMs: 60_000,
      mirrorMaxBodyBytes: 64 * 1024,
      steps: [{ setWeight: 100 }],
    };
    assert.deepEqual(web(svc('type: canary\nsteps: [{ setWeight: 100 }]')).strategy, expected);
  });

  test('steps are required and non-empty', () => {
    assert.deepEqual(lines(issues(svc('type: canary'))), [
      '6: services.web.strategy.steps: is required for type: canary: a list of steps, each one of setWeight, pause, mirror, analysis (e.g. "- setWeight: 10", "- pause: { duration: 2m }")',
    ]);
    assert.deepEqual(where(issues(svc('type: canary\nsteps: []'))), ['8: services.web.strategy.steps']);
    assert.match(issues(svc('type: canary\nsteps: []'))[0].message, /at least one step/);
    assert.match(issues(svc('type: canary\nsteps: { setWeight: 1 }'))[0].message, /must be a list of steps/);
  });

  test('each step: exactly one known kind, values in range; issues point at the item line', () => {
    const is = issues(
      svc(`
type: canary
steps:
  - setWeight: 10
    pause: {}
  - setWeight: 101
  - setWeight: -1
  - setWieght: 20
  - {}
  - 5
  - pause: { duration: 0s }
  - pause: { for: 1m }
  - mirror: { methods: [] }
  - mirror: { percent: 5, methods: ["GE T"], pathPrefix: api }
`),
    );
    assert.deepEqual(lines(is), [
      '9: services.web.strategy.steps.0: must have exactly one of setWeight, pause, mirror, analysis, got setWeight and pause',
      '11: services.web.strategy.steps.1.setWeight: must be a percentage between 0 and 100, got 101',
      '12: services.web.strategy.steps.2.setWeight: must be a percentage between 0 and 100, got -1',
      '13: services.web.strategy.steps.3.setWieght: unknown step kind; did you mean "setWeight"?',
      '14: services.web.strategy.steps.4: must be a mapping with one of setWeight, pause, mirror, analysis (e.g. "- setWeight: 10", "- pause: { duration: 2m }"), got an empty mapping',
      '15: services.web.strategy.steps.5: must be a mapping with one of setWeight, pause, mirror, analysis (e.g. "- setWeight: 10", "- pause: { duration: 2m }"), got 5',
      '16: services.web.strategy.steps.6.pause.duration: must be greater than 0, got "0s"',
      '17: services.web.strategy.steps.7.pause.for: unknown key',
      '18: services.web.strategy.steps.8.mirror.percent: is required (0..100: the share of matching requests copied to the canary)',
      '18: services.web.strategy.steps.8.mirror.methods: must be a non-empty list of HTTP methods (e.g. [GET, HEAD]), got a list',
      '19: services.web.strategy.steps.9.mirror.methods.0: must be an HTTP method such as GET, got "GE T"',
      '19: services.web.strategy.steps.9.mirror.pathPrefix: must start with "/" and contain no whitespace, "?" or "#", got "api"',
    ]);
  });

  test('canaryReplicas: integer >= 1 or 1%..100%', () => {
    for (const ok of ['1', '3', '"10%"', '100%']) {
      assert.equal(
        web(svc(`type: canary\ncanaryReplicas: ${ok}\nsteps: [{ setWeight: 1 }]`)).strategy.type,
        'canary',
      );
    }
    for (const bad of ['0', '0%', '101%', '-1', '1.5', 'x']) {
      const is = issues(svc(`type: canary\ncanaryReplicas: ${bad}\nsteps: [{ setWeight: 1 }]`));
      assert.deepEqual(where(is), ['8: services.web.strategy.canaryReplicas'], bad);
    }
  });
});

describe('strategy: keys of another type', () => {
  test('say which type they belong to', () => {
    assert.deepEqual(lines(issues(svc('type: rolling\nsteps: [{ setWeight: 1 }]\npreviewReplicas: 2'))), [
      '8: services.web.strategy.steps: only valid with type: canary',
      '9: services.web.strategy.previewReplicas: only valid with type: blueGreen',
    ]);
    assert.deepEqual(
      lines(issues(svc('type: blueGreen\nmaxSurge: 1\ncanaryReplicas: 1\nmirrorMaxBodySize: 1KB'))),
      [
        '8: services.web.strategy.maxSurge: only valid with type: rolling',
        '9: services.web.strategy.canaryReplicas: only valid with type: canary',
        '10: services.web.strategy.mirrorMaxBodySize: only valid with type: canary',
      ],
    );
    assert.deepEqual(
      lines(
        issues(
          svc('type: canary\nsteps: [{ setWeight: 1 }]\nmaxUnavailable: 0\nautoPromote: true\npreview: {}'),
        ),
      ),
      [
        '9: services.web.strategy.maxUnavailable: only valid with type: rolling',
        '10: services.web.strategy.autoPromote: only valid with type: blueGreen',
        '11: services.web.strategy.preview: only valid with type: blueGreen',
      ],
    );
  });

  test('without type, the strategy is rolling', () => {
    assert.deepEqual(lines(issues(svc('steps: [{ setWeight: 1 }]'))), [
      '7: services.web.strategy.steps: only valid with type: canary',
    ]);
  });

  test('unknown keys suggest the type own keys first, then other types', () => {
    assert.ok(
      lines(issues(svc('type: canary\nstep: []'))).includes(
        '8: services.web.strategy.step: unknown key for type: canary; did you mean "steps"?',
      ),
    );
    assert.deepEqual(lines(issues(svc('type: rolling\npreviewReplica: 1'))), [
      '8: services.web.strategy.previewReplica: unknown key for type: rolling; did you mean "previewReplicas" (only valid with type: blueGreen)?',
    ]);
  });
});
