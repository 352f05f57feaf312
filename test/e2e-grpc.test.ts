/**
 * End to end: a gRPC service (`protocol: grpc`, real @grpc/grpc-js instances started by the supervisor)
 * rolled out by `cutover up` while unary calls run in a loop and server streams are open. No unary call
 * fails; every stream ends with OK or with the clean UNAVAILABLE of a drained instance, none with a
 * transport reset.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT, type StatusLike, useCluster } from './helpers/cluster.ts';
import { echoClient, readCount, type StreamOutcome, say, type UnaryOutcome } from './helpers/grpc.ts';

const ECHO_SERVICE = `  echo:
    route: { host: "*", pathPrefix: /cutover.test.Echo }
    version: v1
    replicas: 2
    protocol: grpc
    run:
      command: "${process.execPath} ${ROOT}test/fixtures/grpc-server.mjs --port \${PORT}"
    readiness: { path: /ready, interval: 200ms, timeout: 200ms, successThreshold: 1, failureThreshold: 2 }
    drainTimeout: 1s
    stopTimeout: 5s
    strategy: { type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 20s }
`;

/** Unary callers running side by side until told to stop. */
const UNARY_LOOPS = 4;
/** Streams that never end by themselves (they must be ended by the drain of their instance). */
const ENDLESS_STREAMS = 4;

test('rolling deploy of a gRPC service: 0 failed unary calls, streams end OK or UNAVAILABLE on drained instances', {
  todo: 'open defect: under full-suite load 0-2 unary calls get 502 during the rolling deploy (see the issue 10 note)',
}, async (t) => {
  const c = useCluster(t);
  await c.up({ replicas: 1, extraService: ECHO_SERVICE, gatewayYaml: '  http2: { cleartext: true }\n' });
  const echoStatus = async () => (await c.api<StatusLike>('GET', '/v1/services/echo')).body;
  await c.waitFor(async () => (await echoStatus()).phase === 'Healthy', 20_000, 'echo healthy');
  const v1 = new Set((await echoStatus()).instances.map((i) => i.id));
  assert.equal(v1.size, 2);

  const client = echoClient(t, c.gatewayPort);
  // Given unary calls in a loop
  let stop = false;
  const unary: UnaryOutcome[] = [];
  const loops = Array.from({ length: UNARY_LOOPS }, async (_, k) => {
    while (!stop) unary.push(await say(client, { text: `call-${k}` }));
  });
  // And server streams open on the v1 instances (endless ones, and ones that finish on their own)
  const streams: Array<Promise<StreamOutcome>> = [];
  for (let i = 0; i < ENDLESS_STREAMS; i++) {
    streams.push(readCount(client.Count({ count: 0, intervalMs: 20, payloadBytes: 64 })));
  }
  for (let i = 0; i < 4; i++) {
    streams.push(readCount(client.Count({ count: 40, intervalMs: 20, payloadBytes: 64 })));
  }
  await c.waitFor(async () => unary.length >= 20, 10_000, '20 unary calls before the deploy');

  // When v2 is rolled out
  const r = await c.cli(['deploy', 'echo', '--version', 'v2', '--wait']);
  assert.equal(r.code, 0, `deploy exit code; stdout=${r.stdout} stderr=${r.stderr}`);
  const after = unary.length;
  await c.waitFor(async () => unary.length >= after + 20, 10_000, '20 unary calls after the deploy');
  stop = true;
  await Promise.all(loops);
  const outcomes = await Promise.all(streams);

  // Then no unary call failed
  assert.ok(unary.length > 40);
  const failed = unary.filter((u) => u.code !== 0);
  if (failed.length > 0) {
    t.diagnostic(c.gatewayWarnings());
  }
  assert.deepEqual(
    failed.map((f) => `${f.code} ${f.details}`),
    [],
    `${failed.length} of ${unary.length} unary calls failed`,
  );
  const v2 = new Set((await echoStatus()).instances.map((i) => i.id));
  assert.ok(
    [...v2].every((id) => !v1.has(id)),
    'only new instances are left',
  );
  assert.ok(
    unary.some((u) => u.reply !== undefined && v2.has(u.reply.instance)),
    'calls served by v2',
  );

  // And every stream ended with OK or UNAVAILABLE, each UNAVAILABLE one on a drained v1 instance
  assert.equal(outcomes.length, ENDLESS_STREAMS + 4);
  const codes = outcomes.map((o) => o.code);
  assert.ok(
    codes.every((code) => code === 0 || code === 14),
    `stream statuses: ${outcomes.map((o) => `${o.code} ${o.details}`).join('; ')}`,
  );
  for (const o of outcomes) {
    assert.doesNotMatch(o.details, /RST_STREAM|Connection dropped/);
    assert.ok(o.replies.length > 0);
    const instances = new Set(o.replies.map((x) => x.instance));
    assert.equal(instances.size, 1);
    if (o.code === 14) {
      assert.match(o.details, /instance draining/);
      assert.ok(
        v1.has(o.replies[0].instance),
        `UNAVAILABLE stream on ${o.replies[0].instance}, not a v1 one`,
      );
    } else assert.equal(o.replies.length, 40);
  }
  const unavailable = codes.filter((code) => code === 14).length;
  t.diagnostic(
    `${unary.length} unary calls (0 failed); streams: ${unavailable} UNAVAILABLE (drained), ${codes.length - unavailable} OK`,
  );
  assert.equal(unavailable, ENDLESS_STREAMS, 'the endless streams, and only those, ended by the drain');
});
