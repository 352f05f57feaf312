// biome-ignore-all lint/suspicious/noTemplateCurlyInString: tests use literal ${NAME} placeholders
/** Issue 4's keys: services.X.analysis, services.X.hooks, notifications, the canary `analysis` step. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateService } from './load.ts';
import { issues, lines, parseOk } from './test-helpers.ts';
import type { HooksConfig, NotificationConfig } from './types.ts';

/** Lines 1-4 of most texts below: a minimal service `web`. */
const WEB = 'services:\n  web:\n    version: v1\n    run: { command: x }\n';

const BRIEF = `notifications:
  - url: http://127.0.0.1:9000/hook
    format: json
    events: [rollout-started, step-completed, paused, promoted, aborted, rolled-back, analysis-failed, succeeded]
    timeout: 5s
    retries: 3
  - url: https://hooks.slack.example/T0/B0
    format: slack
    events: [aborted, analysis-failed, aborted]
    timeout: 2s
    retries: 0
  - url: http://127.0.0.1:9001/
services:
  web:
    version: v1
    run: { command: "./server --port \${PORT}" }
    analysis: { interval: 1s, minRequests: 50, metrics: [ { name: errors, errorRate: { max: 0.01 } } ] }
    hooks:
      preRollout:    { command: "./migrate.sh", timeout: 2m }
      prePromotion:  { http: { url: "\${TARGET_URL}/smoke", method: get, expectStatus: 200 }, timeout: 10s }
      postPromotion: { command: "curl -s http://x/\${VERSION}", timeout: 30s }
    strategy:
      type: canary
      steps:
        - setWeight: 10
        - analysis: { duration: 30s }
        - setWeight: 50
`;

describe('rollout keys: valid', () => {
  test('the example from the brief parses to exactly the expected objects', () => {
    const c = parseOk(BRIEF);
    const notifications: NotificationConfig[] = [
      {
        url: 'http://127.0.0.1:9000/hook',
        format: 'json',
        events: [
          'rollout-started',
          'step-completed',
          'paused',
          'promoted',
          'aborted',
          'rolled-back',
          'analysis-failed',
          'succeeded',
        ],
        timeoutMs: 5000,
        retries: 3,
      },
      {
        url: 'https://hooks.slack.example/T0/B0',
        format: 'slack',
        events: ['aborted', 'analysis-failed'],
        timeoutMs: 2000,
        retries: 0,
      },
      // defaults: json, all events (no `events`), 5s, 3 retries
      { url: 'http://127.0.0.1:9001/', format: 'json', timeoutMs: 5000, retries: 3 },
    ];
    assert.deepEqual(c.notifications, notifications);
    const web = c.services.web;
    const hooks: HooksConfig = {
      preRollout: { command: './migrate.sh', timeoutMs: 120_000 },
      prePromotion: {
        http: { url: '${TARGET_URL}/smoke', method: 'GET', expectStatus: 200 },
        timeoutMs: 10_000,
      },
      postPromotion: { command: 'curl -s http://x/${VERSION}', timeoutMs: 30_000 },
    };
    assert.deepEqual(web.hooks, hooks);
    assert.deepEqual(web.analysis, {
      intervalMs: 1000,
      initialDelayMs: 0,
      failureLimit: 0,
      consecutiveErrorLimit: 4,
      inconclusiveLimit: 0,
      minRequests: 50,
      alpha: 0.01,
      metrics: [{ name: 'errors', type: 'errorRate', max: 0.01 }],
    });
    assert.equal(web.strategy.type, 'canary');
    assert.deepEqual(web.strategy.type === 'canary' && web.strategy.steps, [
      { setWeight: 10 },
      { analysis: { durationMs: 30_000 } },
      { setWeight: 50 },
    ]);
  });

  test('hook defaults: timeout 60s, method GET, no expectStatus', () => {
    const c = parseOk(`${WEB}    hooks:
      preRollout: { command: ./migrate.sh }
      prePromotion: { http: { url: "http://127.0.0.1:8080/\${SERVICE}/\${REVISION}" } }
`);
    assert.deepEqual(c.services.web.hooks, {
      preRollout: { command: './migrate.sh', timeoutMs: 60_000 },
      prePromotion: {
        http: { url: 'http://127.0.0.1:8080/${SERVICE}/${REVISION}', method: 'GET' },
        timeoutMs: 60_000,
      },
    });
  });

  test('absent keys stay absent; empty ones are empty', () => {
    const plain = parseOk(WEB);
    assert.equal('notifications' in plain, false);
    assert.equal('analysis' in plain.services.web, false);
    assert.equal('hooks' in plain.services.web, false);
    const empty = parseOk(
      'notifications: []\nservices:\n  web:\n    version: v1\n    run: { command: x }\n    hooks: {}\n',
    );
    assert.deepEqual(empty.notifications, []);
    assert.deepEqual(empty.services.web.hooks, {});
  });

  test('validateService (API bodies) accepts the same keys, without lines', () => {
    const r = validateService(
      'web',
      {
        version: 'v1',
        run: { command: 'x' },
        hooks: { prePromotion: { http: { url: '${TARGET_URL}/smoke', method: 'post' } } },
        strategy: { type: 'canary', steps: [{ analysis: { duration: '10s' } }] },
      },
      '/srv',
    );
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.issues, [
      {
        path: 'services.web.strategy.steps.0.analysis',
        message: 'analysis step needs services.web.analysis (the metrics it judges; see docs/analysis.md)',
      },
    ]);
  });
});

describe('rollout keys: problems, with paths and lines', () => {
  test('bad hooks: both command and http, neither, bad timeout, bad http fields', () => {
    const is = issues(`${WEB}    hooks:
      preRollout: { command: ./migrate.sh, http: { url: "http://x/" } }
      prePromotion: { timeout: 10s }
      postPromotion: { command: ./x, timeout: 10 }
      onFailure: { command: ./y }
  api:
    route: { pathPrefix: /api }
    version: v1
    run: { command: x }
    hooks:
      preRollout: { command: "  ", timeout: 0s }
      prePromotion: { http: { url: "\${TARGET_URL}/\${VERSON}", method: "G T", expectStatus: 700, body: x } }
      postPromotion: { http: { url: "ftp://x/" } }
  shop:
    route: { pathPrefix: /shop }
    version: v1
    run: { command: x }
    hooks: [preRollout]
  admin:
    route: { pathPrefix: /admin }
    version: v1
    run: { command: x }
    hooks:
      preRollout: { http: { url: "\${TARGET_URL}/ready" } }
`);
    assert.deepEqual(lines(is), [
      '6: services.web.hooks.preRollout: has command and http: exactly one of them per hook',
      '7: services.web.hooks.prePromotion: needs command or http (command: "./migrate.sh" or http: { url: "${TARGET_URL}/smoke" })',
      '8: services.web.hooks.postPromotion.timeout: must be a duration with a unit, not a bare number (units ms, s, m, h, d; e.g. 500ms, 10s, 2m, 1h, 1m30s, 180d), got 10',
      '9: services.web.hooks.onFailure: unknown key',
      '15: services.api.hooks.preRollout.timeout: must be greater than 0, got "0s"',
      '15: services.api.hooks.preRollout.command: must be a non-empty shell command, got "  "',
      '16: services.api.hooks.prePromotion.http.body: unknown key',
      '16: services.api.hooks.prePromotion.http.url: unknown placeholder ${VERSON}; did you mean "VERSION"? (known: ${TARGET_URL}, ${SERVICE}, ${REVISION}, ${VERSION})',
      '16: services.api.hooks.prePromotion.http.method: must be an HTTP method such as GET or POST, got "G T"',
      '16: services.api.hooks.prePromotion.http.expectStatus: must be an HTTP status between 100 and 599, got 700',
      '17: services.api.hooks.postPromotion.http.url: must be an http:// or https:// URL (or "${TARGET_URL}/path"), got "ftp://x/"',
      '22: services.shop.hooks: must be a mapping of preRollout, prePromotion, postPromotion, got a list',
      '28: services.admin.hooks.preRollout.http.url: must not use ${TARGET_URL}: preRollout runs before any instance of the new revision starts',
    ]);
  });

  test('bad notifications: URL, unknown event with a suggestion, format, timeout, retries', () => {
    const is = issues(`notifications:
  - url: not-a-url
    format: slak
    events: [rollout-started, promotd, 5]
  - format: json
    timeout: 0s
    retries: -1
    event: [paused]
  - url: http://127.0.0.1:9000/
    events: []
  - http://127.0.0.1:9000/
`);
    assert.deepEqual(lines(is), [
      '2: notifications.0.url: must be an http:// or https:// URL, got "not-a-url"',
      '3: notifications.0.format: must be "json" or "slack", got "slak"; did you mean "slack"?',
      '4: notifications.0.events.1: unknown event "promotd"; did you mean "promoted"? (events: rollout-started, step-completed, paused, promoted, aborted, rolled-back, analysis-failed, analysis-alert, succeeded, certificate-failed)',
      '4: notifications.0.events.2: must be an event name, got 5 (events: rollout-started, step-completed, paused, promoted, aborted, rolled-back, analysis-failed, analysis-alert, succeeded, certificate-failed)',
      '5: notifications.1.url: is required (an http:// or https:// URL)',
      '6: notifications.1.timeout: must be greater than 0, got "0s"',
      '7: notifications.1.retries: must be an integer >= 0, got -1',
      '8: notifications.1.event: unknown key; did you mean "events"?',
      '10: notifications.2.events: must be a non-empty list of events (omit it for all: rollout-started, step-completed, paused, promoted, aborted, rolled-back, analysis-failed, analysis-alert, succeeded, certificate-failed), got a list',
      '11: notifications.3: must be a mapping with url (and optionally format, events, timeout, retries), got "http://127.0.0.1:9000/"',
    ]);
    assert.deepEqual(lines(issues('notifications: { url: "http://x/" }\n')), [
      '1: notifications: must be a list of webhooks, each { url: http://..., format: json | slack, events: [...] }, got a mapping',
    ]);
    assert.match(issues('notificatons: []\n')[0].message, /did you mean "notifications"/);
  });

  test('an analysis step needs the service analysis', () => {
    const is = issues(`${WEB}    strategy:
      type: canary
      steps:
        - setWeight: 10
        - analysis: { duration: 30s }
        - setWeight: 50
        - analysis: { duration: 1m }
`);
    assert.deepEqual(lines(is), [
      '9: services.web.strategy.steps.1.analysis: analysis step needs services.web.analysis (the metrics it judges; see docs/analysis.md)',
      '11: services.web.strategy.steps.3.analysis: analysis step needs services.web.analysis (the metrics it judges; see docs/analysis.md)',
    ]);
  });

  test('analysis step values', () => {
    const is = issues(`${WEB}    analysis: { metrics: [{ name: errors, errorRate: { max: 0.01 } }] }
    strategy:
      type: canary
      steps:
        - analysis: {}
        - analysis:
        - analysis: { duration: 0s }
        - analysis: { duration: 1m, for: 2 }
        - analysis: 30s
        - analysis: { duration: 1m }
          setWeight: 5
        - analyse: { duration: 1m }
`);
    assert.deepEqual(lines(is), [
      '9: services.web.strategy.steps.0.analysis.duration: is required (how long the analysis runs at the current weight, e.g. 30s)',
      '10: services.web.strategy.steps.1.analysis: must be a mapping with duration (e.g. "- analysis: { duration: 30s }")',
      '11: services.web.strategy.steps.2.analysis.duration: must be greater than 0, got "0s"',
      '12: services.web.strategy.steps.3.analysis.for: unknown key',
      '13: services.web.strategy.steps.4.analysis: must be a mapping of keys (duration), got "30s"',
      '14: services.web.strategy.steps.5: must have exactly one of setWeight, pause, mirror, analysis, got analysis and setWeight',
      '16: services.web.strategy.steps.6.analyse: unknown step kind; did you mean "analysis"?',
    ]);
  });

  test('a bad analysis metric is reported at its line', () => {
    const is = issues(`${WEB}    analysis:
      interval: 1s
      metrics:
        - name: errors
          errorRate: { max: 0.01 }
        - name: latency
          latency: { percentile: 99, max: fast }
        - name: both
          errorRate: { max: 0.01 }
          latency: { max: 1s }
      intervall: 2s
    strategy: { type: canary, steps: [{ analysis: { duration: 30s } }] }
`);
    assert.deepEqual(lines(is), [
      '11: services.web.analysis.metrics.1.latency.max: must be a duration (units ms, s, m, h, d; e.g. 500ms, 10s, 2m, 1h, 1m30s, 180d), got "fast"',
      '12: services.web.analysis.metrics.2: has errorRate and latency: exactly one of errorRate, latency, prometheus, web per metric',
      '15: services.web.analysis.intervall: unknown key; did you mean "interval"?',
    ]);
  });

  test('analysis needs metrics; an empty analysis is an error', () => {
    const is = issues(`${WEB}    analysis: { interval: 1s }\n`);
    assert.deepEqual(lines(is), [
      '5: services.web.analysis.metrics: must be a non-empty list of metrics, got undefined',
    ]);
    assert.deepEqual(lines(issues(`${WEB}    analysis: []\n`)), [
      '5: services.web.analysis: must be a mapping of keys (interval, initialDelay, failureLimit, consecutiveErrorLimit, inconclusiveLimit, minRequests, alpha, gate, metrics), got a list',
    ]);
  });
});
