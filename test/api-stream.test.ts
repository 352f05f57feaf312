/** `GET /v1/stream` against a running controller: fed by its changes, shared by subscribers, resumable. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { describe, type TestContext, test } from 'node:test';
import { type ServerSentEvent, SseParser } from '../src/cli/sse.ts';
import { API_SERVICE, type Cluster, useCluster } from './helpers/cluster.ts';

interface InstanceDoc {
  id: string;
  revision: number;
  pid?: number;
  restarts: number;
  state: string;
  lastProbeError?: string;
}

/** Opens the stream and collects its events as they arrive. */
async function subscribe(
  t: TestContext,
  c: Cluster,
  query = '',
  headers: Record<string, string> = {},
): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  const parser = new SseParser();
  const req = http.get({
    host: '127.0.0.1',
    port: c.controlPort,
    path: `/v1/stream${query}`,
    headers: { authorization: `Bearer ${c.adminToken()}`, ...headers },
    agent: false,
  });
  t.after(() => req.destroy());
  await new Promise<void>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      assert.equal(res.statusCode, 200);
      res.setEncoding('utf8');
      res.on('data', (d: string) => events.push(...parser.push(d)));
      resolve();
    });
  });
  return events;
}

const statuses = (events: ServerSentEvent[]) =>
  events
    .filter((e) => e.event === 'status')
    .map((e) => JSON.parse(e.data) as { name: string; instances: InstanceDoc[] });

describe('status stream', { timeout: 120_000 }, () => {
  test('instance changes reach every subscriber as the same frames; Last-Event-ID resumes the event log', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    const filtered = await subscribe(t, c, '?service=web');
    const all = await subscribe(t, c);
    await c.waitFor(
      async () => statuses(filtered).length > 0 && statuses(all).length > 0,
      10_000,
      'first status on both streams',
    );
    const [instance] = statuses(filtered)[0].instances;
    assert.ok(instance?.pid, 'the instance runs');

    // A crash changes no rollout state: only the supervisor sees it, and the stream must too.
    process.kill(instance.pid, 'SIGKILL');
    const restarted = (events: ServerSentEvent[]) =>
      statuses(events).some((s) => s.instances.some((i) => i.id === instance.id && i.restarts >= 1));
    await c.waitFor(async () => restarted(filtered) && restarted(all), 20_000, 'the restart on both streams');
    const sameStatus = (events: ServerSentEvent[]) =>
      events.filter((e) => e.event === 'status' && JSON.parse(e.data).name === 'web').map((e) => e.data);
    await c.waitFor(
      async () => statuses(filtered).at(-1)?.instances[0]?.state === 'ready',
      20_000,
      'the instance ready again',
    );
    await c.waitFor(
      async () => sameStatus(filtered).at(-1) === sameStatus(all).at(-1),
      5_000,
      'both subscribers at the same status',
    );
    // The same serialized documents (the later subscriber may have joined after the first one).
    const docs = sameStatus(filtered);
    const docsAll = sameStatus(all);
    assert.ok(docs.length >= 2 && docsAll.length >= 2, 'statuses were sent');
    assert.deepEqual(docsAll, docs.slice(docs.length - docsAll.length));
    for (let i = 1; i < docs.length; i++)
      assert.notEqual(docs[i], docs[i - 1], 'a status is sent when it changed');

    // Resuming from the first event replays the log after it, in order, with ids.
    const log = (await c.api<{ events: Array<{ id: number }> }>('GET', '/v1/events?service=web')).body.events;
    assert.ok(log.length > 0, 'the event log has entries');
    const resumed = await subscribe(t, c, '?service=web', { 'last-event-id': String(log[0].id) });
    await c.waitFor(
      async () => resumed.filter((e) => e.event === 'event').length >= log.length - 1,
      10_000,
      'the backlog after Last-Event-ID',
    );
    const ids = resumed.filter((e) => e.event === 'event').map((e) => Number(e.id));
    assert.deepEqual(
      ids.slice(0, log.length - 1),
      log.slice(1).map((e) => e.id),
    );
  });

  test('a starting instance’s probe errors reach the stream while nothing else changes', async (t) => {
    const c = useCluster(t);
    await c.up({ replicas: 1 });
    const events = await subscribe(t, c, '?service=web');
    // Revision 2 answers /ready with 503 for its first seconds: only its probe error changes.
    const d = await c.cli(['deploy', 'web', '--version', 'v2', '--set', 'run.env.READY_AFTER_MS=4000']);
    assert.equal(d.code, 0, d.stderr);
    await c.waitFor(
      async () =>
        statuses(events).some((s) =>
          s.instances.some(
            (i) => i.revision === 2 && i.state === 'starting' && /503/.test(i.lastProbeError ?? ''),
          ),
        ),
      20_000,
      'the new instance with its probe error on the stream',
    );
  });

  test('a service removed by apply is announced once with `removed` (status --watch drops it on that frame)', async (t) => {
    // Given two services, a stream subscriber and a watching CLI
    const c = useCluster(t);
    await c.up({ replicas: 1, extraService: API_SERVICE });
    const events = await subscribe(t, c);
    await c.waitFor(async () => statuses(events).some((s) => s.name === 'api'), 10_000, 'api on the stream');
    // When apply removes the api service
    const config = readFileSync(c.configFile, 'utf8');
    writeFileSync(c.configFile, config.replace(API_SERVICE, ''));
    const applied = await c.cli(['apply', '-c', c.configFile]);
    assert.equal(applied.code, 0, applied.stderr);
    // Then the stream says so, once, naming it
    await c.waitFor(async () => events.some((e) => e.event === 'removed'), 10_000, 'a removed frame');
    const removed = events
      .filter((e) => e.event === 'removed')
      .map((e) => JSON.parse(e.data) as { name: string });
    assert.deepEqual(removed, [{ name: 'api' }]);
    // And the service list agrees
    const services = (await c.api<{ services: { name: string }[] }>('GET', '/v1/services')).body.services;
    assert.deepEqual(
      services.map((s) => s.name),
      ['web'],
    );
  });
});
