import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { NotificationConfig } from '../src/config/types.ts';
import { createLogger, silentLogger } from '../src/log/logger.ts';
import { noticeFromEvent, type RolloutNotice } from '../src/notify/notice.ts';
import { Notifier } from '../src/notify/notifier.ts';
import { slackText } from '../src/notify/payload.ts';

interface Received {
  path: string;
  at: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** Per path: what to answer, one entry per request (then 200): a status, or 'hang'. */
const script = new Map<string, (number | 'hang')[]>();
const received: Received[] = [];
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({
        path,
        at: Date.now(),
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString()),
      });
      const action = script.get(path)?.shift() ?? 200;
      if (action === 'hang') return; // never answers; the client times out
      res.writeHead(action).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  script.clear();
  received.length = 0;
});

const hook = (path: string, extra: Partial<NotificationConfig> = {}): NotificationConfig => ({
  url: `${base}${path}`,
  format: 'json',
  timeoutMs: 2000,
  retries: 3,
  ...extra,
});

const T = Date.parse('2025-01-02T03:04:05.000Z');
const notice = (extra: Partial<RolloutNotice> = {}): RolloutNotice => ({
  event: 'aborted',
  service: 'web',
  revision: 3,
  version: 'v3',
  message: 'analysis failed: errors 5.2% > 1%',
  time: T,
  ...extra,
});

const at = (path: string) => received.filter((r) => r.path === path);

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) });
  return { log, lines };
}

describe('Notifier', () => {
  test('json: POST of the event document', async () => {
    const n = new Notifier([hook('/json')], silentLogger);
    n.notify(notice({ details: { metric: 'errors', value: 0.052 } }));
    await n.flush(3000);
    const [r] = at('/json');
    assert.ok(r);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(r.body, {
      event: 'aborted',
      service: 'web',
      revision: 3,
      version: 'v3',
      message: 'analysis failed: errors 5.2% > 1%',
      time: '2025-01-02T03:04:05.000Z',
      details: { metric: 'errors', value: 0.052 },
    });
  });

  test('slack: text and blocks', async () => {
    const n = new Notifier([hook('/slack', { format: 'slack' })], silentLogger);
    n.notify(notice({ details: { metric: 'errors' } }));
    await n.flush(3000);
    const [r] = at('/slack');
    assert.ok(r);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body.text, '*web* revision 3 (v3): aborted — analysis failed: errors 5.2% &gt; 1%');
    const blocks = r.body.blocks as { type: string; text?: { text: string } }[];
    assert.ok(Array.isArray(blocks) && blocks.length >= 2);
    assert.equal(blocks[0].type, 'section');
    assert.match(blocks[0].text?.text ?? '', /^:x: \*web\* revision 3 \(v3\): aborted/);
    assert.ok(JSON.stringify(blocks).includes('metric'));
    assert.equal(
      slackText(notice({ revision: undefined, version: undefined, event: 'succeeded', message: '' })),
      '*web*: succeeded',
    );
  });

  test('only the selected events are delivered', async () => {
    const n = new Notifier(
      [hook('/filtered', { events: ['aborted', 'succeeded'] }), hook('/all')],
      silentLogger,
    );
    n.notify(notice({ event: 'rollout-started', message: 'a' }));
    n.notify(notice({ event: 'step-completed', message: 'b' }));
    n.notify(notice({ event: 'succeeded', message: 'c' }));
    await n.flush(3000);
    assert.deepEqual(
      at('/filtered').map((r) => r.body.message),
      ['c'],
    );
    assert.deepEqual(
      at('/all').map((r) => r.body.message),
      ['a', 'b', 'c'],
    );
  });

  test('retries after 500 and 429, with backoff, then succeeds', async () => {
    script.set('/flaky', [500, 429]);
    const n = new Notifier([hook('/flaky')], silentLogger);
    n.notify(notice());
    await n.flush(5000);
    const rs = at('/flaky');
    assert.equal(rs.length, 3);
    const gap1 = rs[1].at - rs[0].at;
    const gap2 = rs[2].at - rs[1].at;
    assert.ok(gap1 >= 180 && gap1 < 1000, `first backoff ${gap1} ms`);
    assert.ok(gap2 >= 380 && gap2 < 1500, `second backoff ${gap2} ms`);
  });

  test('gives up after `retries`', async () => {
    script.set('/down', [503, 503, 503, 503, 503]);
    const { log, lines } = captureLog();
    const n = new Notifier([hook('/down', { retries: 1 })], log);
    n.notify(notice());
    await n.flush(5000);
    assert.equal(at('/down').length, 2);
    assert.ok(
      lines.some((l) => l.msg === 'notification not delivered' && l.error === 'HTTP 503' && l.attempts === 2),
    );
    assert.ok(
      lines.every((l) => !String(l.webhook ?? '').includes('/down')),
      'url path is not logged',
    );
  });

  test('no retry on 400', async () => {
    script.set('/bad', [400]);
    const { log, lines } = captureLog();
    const n = new Notifier([hook('/bad')], log);
    n.notify(notice());
    await n.flush(3000);
    // Given up after one attempt (flush waits for retries, so none can follow).
    assert.ok(
      lines.some((l) => l.msg === 'notification not delivered' && l.error === 'HTTP 400' && l.attempts === 1),
      JSON.stringify(lines),
    );
    assert.equal(at('/bad').length, 1);
  });

  test('timeout, then retry', async () => {
    script.set('/slow', ['hang']);
    const { log, lines } = captureLog();
    const n = new Notifier([hook('/slow', { timeoutMs: 300 })], log);
    n.notify(notice());
    await n.flush(5000);
    const rs = at('/slow');
    assert.equal(rs.length, 2);
    // The first attempt was cut by its timeout (the hanging answer never came) and retried after the backoff.
    const retrying = lines.filter((l) => l.msg === 'notification attempt failed, retrying');
    assert.deepEqual(
      retrying.map((l) => [l.error, l.retryInMs]),
      [['timed out after 300ms', 200]],
    );
    const gap = rs[1].at - rs[0].at;
    assert.ok(gap >= 450, `timeout + backoff ${gap} ms`);
  });

  test('network error (refused), then gives up', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { log, lines } = captureLog();
    const n = new Notifier(
      [{ url: `http://127.0.0.1:${port}/x`, format: 'json', timeoutMs: 500, retries: 2 }],
      log,
    );
    n.notify(notice());
    await n.flush(5000);
    const retried = lines.filter((l) => l.msg === 'notification attempt failed, retrying');
    assert.equal(retried.length, 2);
    assert.equal(retried[0].error, 'ECONNREFUSED');
    assert.ok(lines.some((l) => l.msg === 'notification not delivered' && l.attempts === 3));
  });

  test('delivery is in order per URL; a slow URL does not hold up another', async () => {
    script.set('/ordered', [500, 500]);
    const n = new Notifier([hook('/ordered'), hook('/fast')], silentLogger);
    for (const m of ['1', '2', '3', '4']) n.notify(notice({ message: m }));
    await n.flush(5000);
    assert.deepEqual(
      at('/ordered').map((r) => r.body.message),
      ['1', '1', '1', '2', '3', '4'],
    );
    assert.deepEqual(
      at('/fast').map((r) => r.body.message),
      ['1', '2', '3', '4'],
    );
    assert.ok(at('/fast')[3].at < at('/ordered')[2].at, 'the fast webhook was not held up');
  });

  test('notify returns at once and never throws', () => {
    script.set('/never', ['hang']);
    const n = new Notifier([hook('/never', { timeoutMs: 60_000 })], silentLogger);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    // Returns nothing to wait for, and the webhook (which never answers) has not been contacted yet.
    assert.equal(n.notify(notice({ details: circular })), undefined);
    assert.equal(n.notify(notice({ details: { big: 10n } })), undefined);
    assert.equal(n.notify(notice()), undefined);
    assert.equal(received.length, 0, 'nothing sent synchronously');
  });

  test('flush resolves when delivered, and after its timeout when not', async () => {
    const n = new Notifier([hook('/f1'), hook('/f2')], silentLogger);
    await n.flush(10); // nothing queued
    n.notify(notice({ message: 'x' }));
    await n.flush(3000);
    assert.equal(at('/f1').length, 1);
    assert.equal(at('/f2').length, 1);

    script.set('/stuck', ['hang']);
    const { log, lines } = captureLog();
    const stuck = new Notifier([hook('/stuck', { timeoutMs: 60_000 })], log);
    stuck.notify(notice());
    const t0 = Date.now();
    await stuck.flush(300);
    const took = Date.now() - t0;
    assert.ok(took >= 290, `${took} ms`);
    assert.ok(lines.some((l) => l.msg === 'notifications still pending after flush timeout'));
    server.closeAllConnections();
  });

  test('bounded queue: the oldest are dropped with a warning', async () => {
    script.set('/flood', []);
    const { log, lines } = captureLog();
    const n = new Notifier([hook('/flood')], log);
    for (let i = 0; i < 1005; i++) n.notify(notice({ message: String(i) }));
    const dropped = lines.filter((l) => l.msg === 'notification queue full, dropping the oldest');
    assert.equal(dropped.length, 5);
    await n.flush(30_000);
    const rs = at('/flood');
    assert.equal(rs.length, 1000);
    assert.equal(rs[0].body.message, '5');
    assert.equal(rs[999].body.message, '1004');
  });
});

describe('noticeFromEvent', () => {
  test('maps the core event types', () => {
    const map = (type: string) =>
      noticeFromEvent({ service: 'web', type, revision: 4, message: 'm' }, 'v4')?.event;
    assert.equal(map('RolloutStarted'), 'rollout-started');
    assert.equal(map('StepCompleted'), 'step-completed');
    assert.equal(map('RolloutPaused'), 'paused');
    assert.equal(map('RolloutPromoted'), 'promoted');
    assert.equal(map('TrafficSwitched'), 'promoted');
    assert.equal(map('RolloutAborted'), 'aborted');
    assert.equal(map('RolloutFailed'), 'aborted');
    assert.equal(map('RollbackStarted'), 'rolled-back');
    assert.equal(map('RolloutSucceeded'), 'succeeded');
    assert.equal(map('AnalysisFailed'), 'analysis-failed');
    for (const t of [
      'InstanceStarted',
      'InstanceDraining',
      'RolloutResumed',
      'TrafficChanged',
      'PolicyChanged',
      'ConfigApplied',
      'HookFailed',
      'HookSucceeded',
      'toString',
      'nope',
    ]) {
      assert.equal(map(t), undefined, t);
    }
  });

  test('carries service, revision, version, message and the current time', () => {
    const before = Date.now();
    const n = noticeFromEvent(
      { service: 'api', type: 'RolloutSucceeded', revision: 9, message: 'done' },
      'v9',
    );
    assert.ok(n);
    assert.deepEqual(
      { ...n, time: 0 },
      { event: 'succeeded', service: 'api', revision: 9, version: 'v9', message: 'done', time: 0 },
    );
    assert.ok(n.time >= before && n.time <= Date.now());
    const bare = noticeFromEvent({ service: 'api', type: 'RolloutStarted', message: 's' });
    assert.ok(bare);
    assert.equal('revision' in bare, false);
    assert.equal('version' in bare, false);
  });
});
