import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type HealthView,
  healthAnswer,
  healthPathOf,
  isHealthRequest,
  parseServing,
  SERVING,
} from './health.ts';
import { checkSettings } from './settings.ts';

const PATH = '/_cutover/health';

test('a health request is a GET or HEAD of exactly the health path, any query', () => {
  const rows: [string | undefined, string, boolean][] = [
    ['GET', PATH, true],
    ['HEAD', PATH, true],
    ['GET', `${PATH}?probe=haproxy`, true],
    ['GET', `${PATH}?`, true],
    ['POST', PATH, false],
    ['PUT', PATH, false],
    [undefined, PATH, false],
    ['GET', `${PATH}x`, false],
    ['GET', `${PATH}/`, false],
    ['GET', '/_cutover/healt', false],
    ['GET', `/x${PATH}`, false],
    ['GET', '/_CUTOVER/HEALTH', false],
  ];
  for (const [method, target, expected] of rows)
    assert.equal(isHealthRequest(method, target, PATH), expected, `${method} ${target}`);
});

test('the health path is the default unless configured, and null when turned off', () => {
  assert.equal(healthPathOf({}), PATH);
  assert.equal(healthPathOf({ health: { path: '/lb' } }), '/lb');
  assert.equal(healthPathOf({ health: false }), null);
});

test('health answers 200 only while routing and serving; stopping wins over a host drain', () => {
  const base: HealthView = { serving: SERVING, stopping: false, routesVersion: 7, hostName: 'web-1' };
  const rows: [Partial<HealthView>, number, Record<string, unknown>][] = [
    [{}, 200, { status: 'serving', host: 'web-1', routesVersion: 7 }],
    [
      { serving: { serving: false, reason: 'host drain' } },
      503,
      { status: 'draining', reason: 'host drain' },
    ],
    [{ serving: { serving: false } }, 503, { status: 'draining', reason: 'not serving' }],
    [{ stopping: true }, 503, { status: 'draining', reason: 'gateway shutting down' }],
    [
      { stopping: true, serving: { serving: false, reason: 'host drain' } },
      503,
      { status: 'draining', reason: 'gateway shutting down' },
    ],
    [{ routesVersion: 0 }, 503, { status: 'starting', reason: 'no route table yet' }],
  ];
  for (const [change, status, body] of rows) {
    const a = healthAnswer({ ...base, ...change });
    assert.equal(a.status, status, JSON.stringify(change));
    assert.deepEqual(JSON.parse(a.body), body);
  }
});

test('a PUT /serving body is read strictly, with the problem named', () => {
  assert.deepEqual(parseServing({ serving: true }), { serving: true });
  assert.deepEqual(parseServing({ serving: true, reason: 'back' }), { serving: true });
  assert.deepEqual(parseServing({ serving: false }), { serving: false });
  assert.deepEqual(parseServing({ serving: false, reason: '' }), { serving: false });
  assert.deepEqual(parseServing({ serving: false, reason: 'host drain' }), {
    serving: false,
    reason: 'host drain',
  });
  const bad: [unknown, RegExp][] = [
    [null, /must be a JSON object/],
    [[true], /must be a JSON object/],
    [{}, /serving must be true or false/],
    [{ serving: 'false' }, /serving must be true or false/],
    [{ serving: false, reason: 3 }, /reason must be a string/],
    [{ serving: false, reason: 'x'.repeat(201) }, /at most 200 characters/],
    [{ serving: false, why: 'x' }, /unknown field "why"/],
  ];
  for (const [body, message] of bad) {
    const r = parseServing(body);
    assert.ok('error' in r, JSON.stringify(body));
    assert.match(r.error, message);
  }
});

test('gateway settings with a bad health path or host name are refused, saying which', () => {
  const ok = {
    listen: { host: '127.0.0.1', port: 0 },
    workers: 1,
    adminSocket: '/a.sock',
    routesFile: '/r.json',
    connectTimeoutMs: 1,
    upstreamTimeoutMs: 1,
    upstreamIdleTimeoutMs: 1,
    clientIdleTimeoutMs: 1,
    requestHeadTimeoutMs: 1,
    maxBodyBytes: 1,
    retries: 0,
    ejectAfterFailures: 1,
    ejectForMs: 1,
    shutdownTimeoutMs: 1,
  };
  assert.deepEqual(checkSettings(ok), []);
  assert.deepEqual(checkSettings({ ...ok, health: false, hostName: 'web-1' }), []);
  assert.deepEqual(checkSettings({ ...ok, health: { path: '/lb' } }), []);
  assert.deepEqual(checkSettings({ ...ok, health: { path: 'lb' } }), [
    'health.path must be a path starting with "/"',
  ]);
  assert.deepEqual(checkSettings({ ...ok, health: { path: '/lb?x' } }), [
    'health.path must not contain "?" (the query of a health check is ignored)',
  ]);
  assert.deepEqual(checkSettings({ ...ok, health: 'on' }), ['health.path must be {path} or false']);
  assert.deepEqual(checkSettings({ ...ok, hostName: '' }), ['hostName must be a non-empty string']);
});
