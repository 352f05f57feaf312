/** The etcd client over HTTPS with client certificates (a real single-member etcd). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdClient, EtcdUnavailableError } from '../src/store/etcd/client.ts';
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from './helpers/certs.ts';
import { type EtcdCluster, startEtcdCluster } from './helpers/etcd.ts';

describe('etcd client over TLS', { timeout: 60_000 }, () => {
  let cluster: EtcdCluster;
  let ca: TestCa;
  let leaf: TestLeaf;
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-etcd-tls-'));
  const clients: EtcdClient[] = [];

  before(async () => {
    ca = makeCa(dir);
    leaf = makeLeaf(ca, ['127.0.0.1'], { extendedKeyUsage: 'serverAuth,clientAuth' });
    cluster = await startEtcdCluster({
      members: 1,
      tls: { caFile: ca.certFile, certFile: leaf.certFile, keyFile: leaf.keyFile },
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with the CA and a client certificate (PEM contents) puts and gets work over https', async () => {
    assert.match(cluster.endpoints[0], /^https:/);
    const c = new EtcdClient({
      endpoints: cluster.endpoints,
      tls: { ca: ca.certPem, cert: leaf.certPem, key: leaf.keyPem },
    });
    clients.push(c);
    await c.put('/t/tls', 'secure');
    assert.equal((await c.get('/t/tls'))?.value, 'secure');
  });

  test('without the CA the server certificate is not trusted and the error says so', async () => {
    const c = new EtcdClient({ endpoints: cluster.endpoints, requestTimeoutMs: 1000 });
    clients.push(c);
    await assert.rejects(c.get('/t/tls'), (err: unknown) => {
      assert.ok(err instanceof EtcdUnavailableError);
      assert.match(err.message, /certificate|SELF_SIGNED|UNABLE_TO/i);
      return true;
    });
  });
});
