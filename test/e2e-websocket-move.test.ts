/**
 * Long-lived connections move once: during a rolling update new WebSocket upgrades go to the
 * rollout's target revision, so an IM-style client closed with 1001 by a draining instance
 * reconnects where it can stay, and is not closed again by the same rollout.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

const CLIENTS = 200;

/** A client that reconnects after every close, recording how each connection ended. */
class ImClient {
  version = '';
  closes = 0;
  unclean: string[] = [];
  private ws?: WebSocket;
  private stopped = false;
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.addEventListener('message', (e) => {
        const m = JSON.parse(String(e.data)) as { version?: string };
        if (m.version) this.version = m.version;
        if (!opened) {
          opened = true;
          resolve();
        }
      });
      ws.addEventListener('error', () => {
        if (!opened) reject(new Error(`websocket to ${this.url} failed`));
      });
      ws.addEventListener('close', (e) => {
        if (this.stopped) return;
        this.closes++;
        if (e.code !== 1001 || !e.wasClean) this.unclean.push(`${e.code}/${e.wasClean}`);
        this.version = '';
        this.connect().catch((err: Error) => this.unclean.push(`reconnect: ${err.message}`));
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close();
  }
}

describe('long-lived connections during a rolling update', { timeout: 180_000 }, () => {
  test(`${CLIENTS} reconnecting WebSocket clients through a 3-replica rolling update: each is closed exactly once, cleanly, and ends on v2`, async (t) => {
    // Given three v1 instances and CLIENTS WebSocket clients spread over them
    const c = useCluster(t);
    await c.up({ replicas: 3 });
    const clients = Array.from({ length: CLIENTS }, () => new ImClient(`ws://127.0.0.1:${c.gatewayPort}/ws`));
    t.after(() => {
      for (const cl of clients) cl.stop();
    });
    for (let i = 0; i < clients.length; i += 20) {
      await Promise.all(clients.slice(i, i + 20).map((cl) => cl.connect())).catch((err: Error) => {
        throw new Error(`${err.message}; gateway warnings:\n${c.gatewayWarnings()}`);
      });
    }
    assert.ok(clients.every((cl) => cl.version === 'v1'));

    // When v2 rolls out one instance at a time
    const r = await c.cli(['deploy', 'web', '--version', 'v2', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(() => clients.every((cl) => cl.version === 'v2'), 30_000, 'every client reconnected to v2');

    // Then every client moved exactly once, with a clean 1001 close
    const closes = clients.reduce((n, cl) => n + cl.closes, 0);
    const unclean = clients.flatMap((cl) => cl.unclean);
    t.diagnostic(`${CLIENTS} clients: ${closes} closes, ${unclean.length} unclean`);
    assert.deepEqual(unclean, [], c.gatewayWarnings());
    assert.equal(closes, CLIENTS, `closes per client: ${JSON.stringify(clients.map((cl) => cl.closes))}`);
  });
});
