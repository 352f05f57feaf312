import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CertStore } from './cert-store.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const CHAIN = `${CERT}-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n`;
const KEY = '-----BEGIN PRIVATE KEY-----\nCCCC\n-----END PRIVATE KEY-----\n';

describe('CertStore', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'cutover-store-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('saves and loads a host chain and key, files 0600 in 0700 directories, no temp files left', async () => {
    const store = new CertStore(path.join(root, 'a', 'certs'));
    assert.equal(await store.load('api.example.com'), undefined);
    await store.save('API.example.com', CHAIN, KEY);
    assert.deepEqual(await store.load('api.example.com'), { certPem: CHAIN, keyPem: KEY });
    const hosts = path.join(store.dir, 'hosts');
    assert.equal(statSync(store.dir).mode & 0o777, 0o700);
    assert.equal(statSync(hosts).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(hosts), ['api.example.com.pem']);
    assert.equal(statSync(path.join(hosts, 'api.example.com.pem')).mode & 0o777, 0o600);
  });

  test('a save replaces the pair as a whole', async () => {
    const store = new CertStore(path.join(root, 'b'));
    await store.save('api.example.com', CHAIN, KEY);
    const key2 = KEY.replace('CCCC', 'DDDD');
    await store.save('api.example.com', CERT, key2);
    assert.deepEqual(await store.load('api.example.com'), { certPem: CERT, keyPem: key2 });
  });

  test('lists stored hosts sorted, and an empty or missing directory as none', async () => {
    const store = new CertStore(path.join(root, 'c'));
    assert.deepEqual(await store.list(), []);
    await store.save('b.example.com', CERT, KEY);
    await store.save('a.example.com', CERT, KEY);
    assert.deepEqual(await store.list(), ['a.example.com', 'b.example.com']);
    await store.remove('a.example.com');
    assert.deepEqual(await store.list(), ['b.example.com']);
  });

  test('keeps the account key and account record', async () => {
    const store = new CertStore(path.join(root, 'd'));
    assert.equal(await store.loadAccountKey(), undefined);
    assert.equal(await store.loadAccount(), undefined);
    await store.saveAccountKey(KEY);
    await store.saveAccount({ directory: 'https://ca.example/dir', url: 'https://ca.example/acct/1' });
    assert.equal(await store.loadAccountKey(), KEY);
    assert.deepEqual(await store.loadAccount(), {
      directory: 'https://ca.example/dir',
      url: 'https://ca.example/acct/1',
    });
    assert.equal(statSync(path.join(store.dir, 'account.key')).mode & 0o777, 0o600);
    assert.match(readFileSync(path.join(store.dir, 'account.json'), 'utf8'), /acct\/1/);
  });

  test('rejects host names that are not DNS names (no path escapes)', async () => {
    const store = new CertStore(path.join(root, 'e'));
    for (const bad of ['../etc', 'a/b', '.hidden', '*.example.com', '', 'a..b']) {
      await assert.rejects(store.save(bad, CERT, KEY), /is not a DNS host name/, bad);
    }
  });

  test('a stored file without a key is reported with its path', async () => {
    const store = new CertStore(path.join(root, 'f'));
    await store.save('api.example.com', CERT, KEY);
    const file = path.join(store.dir, 'hosts', 'api.example.com.pem');
    writeFileSync(file, CERT);
    await assert.rejects(store.load('api.example.com'), new RegExp(`${file}: no private key`));
  });
});
