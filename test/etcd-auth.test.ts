/** The etcd client with etcd auth on (a real single-member etcd): token use and re-authentication. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EtcdClient, EtcdError, type WatchEvent } from '../src/store/etcd/client.ts';
import { type EtcdCluster, startEtcdCluster } from './helpers/etcd.ts';
import { waitFor } from './helpers/wait.ts';

const WAIT_MS = 15_000;
const PASSWORD = 'root-secret';

async function gateway(endpoint: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
}

/** Turning auth off and on again makes etcd forget every simple token it handed out. */
async function forgetTokens(): Promise<void> {
  const [e] = cluster.endpoints;
  const auth = await fetch(`${e}/v3/auth/authenticate`, {
    method: 'POST',
    body: JSON.stringify({ name: 'root', password: PASSWORD }),
  });
  const { token } = (await auth.json()) as { token: string };
  const res = await fetch(`${e}/v3/auth/disable`, {
    method: 'POST',
    body: '{}',
    headers: { authorization: token },
  });
  if (res.status !== 200) throw new Error(`auth disable: ${res.status} ${await res.text()}`);
  await gateway(e, '/v3/auth/enable', {});
}

let cluster: EtcdCluster;

describe('etcd client with auth', { timeout: 60_000 }, () => {
  const clients: EtcdClient[] = [];

  before(async () => {
    cluster = await startEtcdCluster({ members: 1 });
    const [e] = cluster.endpoints;
    await gateway(e, '/v3/auth/role/add', { name: 'root' });
    await gateway(e, '/v3/auth/user/add', { name: 'root', password: PASSWORD });
    await gateway(e, '/v3/auth/user/grant', { user: 'root', role: 'root' });
    await gateway(e, '/v3/auth/enable', {});
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
  });

  test('with a username the client authenticates; without one etcd refuses the request', async () => {
    const c = new EtcdClient({ endpoints: cluster.endpoints, username: 'root', password: PASSWORD });
    clients.push(c);
    await c.put('/t/auth/a', '1');
    assert.equal((await c.get('/t/auth/a'))?.value, '1');
    const anonymous = new EtcdClient({ endpoints: cluster.endpoints });
    clients.push(anonymous);
    await assert.rejects(
      anonymous.get('/t/auth/a'),
      (err: unknown) => err instanceof EtcdError && /user name/.test(err.message),
    );
    const wrong = new EtcdClient({ endpoints: cluster.endpoints, username: 'root', password: 'nope' });
    clients.push(wrong);
    await assert.rejects(wrong.get('/t/auth/a'), /authentication failed/);
  });

  test('a token etcd no longer knows is replaced by a new one, for requests and for watches', async () => {
    const c = new EtcdClient({ endpoints: cluster.endpoints, username: 'root', password: PASSWORD });
    clients.push(c);
    const rev = await c.put('/t/auth/w', 'before');
    await forgetTokens();
    assert.equal((await c.get('/t/auth/w'))?.value, 'before');
    await c.put('/t/auth/w', 'after');
    await forgetTokens();
    const events: WatchEvent[] = [];
    const errors: Error[] = [];
    const w = c.watch(
      '/t/auth/',
      rev,
      (evs) => events.push(...evs),
      (e) => errors.push(e),
    );
    await waitFor(() => events.length === 1, WAIT_MS, 'the watched put');
    w.close();
    assert.equal(events[0].kv.value, 'after');
    assert.ok(
      errors.length >= 1 && /invalid auth token|permission denied/.test(errors[0].message),
      String(errors[0]),
    );
  });
});
