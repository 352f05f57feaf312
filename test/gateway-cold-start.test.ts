/**
 * Cold start through a real `cutover up`: a client polling the gateway port from before it is bound sees
 * connections refused, then only 200s (its first request waits in the kernel backlog until the first
 * ready instance is routed in every worker), never a 404 or 503. After `gateway.startupTimeout` a service
 * whose instance never becomes ready answers 503 with a body naming it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { useCluster } from './helpers/cluster.ts';

/** Pause between attempts while the port refuses connections (pacing, not synchronisation). */
const REFUSED_RETRY_MS = 5;

interface Outcome {
  /** `refused`, an HTTP status, or `error:CODE`. */
  kind: string;
  body: string;
}

/** One GET on a new connection. */
function attempt(port: number, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ kind: String(res.statusCode), body }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ kind: `error:${err.code}`, body }));
      })
      .on('error', (err: NodeJS.ErrnoException) =>
        resolve({ kind: err.code === 'ECONNREFUSED' ? 'refused' : `error:${err.code}`, body: '' }),
      );
  });
}

/** Polls until `done(outcomes)`; returns every outcome in order. */
async function poll(port: number, path: string, done: (seen: Outcome[]) => boolean): Promise<Outcome[]> {
  const seen: Outcome[] = [];
  while (!done(seen)) {
    const o = await attempt(port, path);
    seen.push(o);
    if (o.kind === 'refused') await new Promise((r) => setTimeout(r, REFUSED_RETRY_MS));
  }
  return seen;
}

/** The outcomes with repeats collapsed: ['refused', '200'] for refused, refused, 200, 200. */
function runs(seen: Outcome[]): string[] {
  return seen.map((o) => o.kind).filter((k, i, all) => i === 0 || all[i - 1] !== k);
}

const STUCK_SERVICE = `  stuck:
    route: { host: "*", pathPrefix: /stuck }
    version: v1
    replicas: 1
    run:
      command: "${process.execPath} -e \\"setInterval(() => {}, 1000)\\""
    readiness: { path: /ready, interval: 200ms, timeout: 200ms, successThreshold: 1, failureThreshold: 2 }
    stopTimeout: 5s
    strategy: { type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 10m }
`;

describe('gateway cold start', { timeout: 180_000 }, () => {
  test('a client polling from before the bind sees refused, then only 200s: no 404, no 503', async (t) => {
    const c = useCluster(t);
    // A bound far above the instances' start-up time: this test is about what is held, not for how long.
    const options = { replicas: 2, gatewayWorkers: 2, gatewayYaml: '  startupTimeout: 10m\n' };
    await c.writeConfig(options);
    let upDone = false;
    const polling = poll(
      c.gatewayPort,
      '/',
      (seen) => upDone && seen.filter((o) => o.kind === '200').length >= 20,
    );
    await c.up(options);
    upDone = true;
    const seen = await polling;
    t.diagnostic(`cold start: ${seen.length} attempts, runs ${JSON.stringify(runs(seen))}`);
    assert.ok(seen.length > 0);
    assert.ok(
      seen.some((o) => o.kind === '200'),
      'the client got responses',
    );
    const r = runs(seen);
    assert.deepEqual(r[0] === 'refused' ? r : ['refused', ...r], ['refused', '200']);
  });

  test('after startupTimeout a service with no ready instance answers 503 naming it', async (t) => {
    const c = useCluster(t);
    const options = { replicas: 1, extraService: STUCK_SERVICE, gatewayYaml: '  startupTimeout: 10s\n' };
    await c.writeConfig(options);
    const polling = poll(c.gatewayPort, '/stuck', (seen) => seen.filter((o) => o.kind === '503').length >= 3);
    await c.up(options);
    const seen = await polling;
    t.diagnostic(`startup timeout: ${seen.length} attempts, runs ${JSON.stringify(runs(seen))}`);
    const r = runs(seen);
    assert.deepEqual(r[0] === 'refused' ? r : ['refused', ...r], ['refused', '503']);
    const answered = seen.filter((o) => o.kind === '503');
    assert.ok(answered.length >= 3);
    for (const o of answered) assert.equal(o.body, 'cutover: no ready instance for service "stuck"\n');
    // The other service is served all along.
    assert.equal((await c.get('/')).status, 200);
  });
});
