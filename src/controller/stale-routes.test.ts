import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { RouteTable } from '../gateway/protocol.ts';
import { pruneRoutesFile, pruneTable } from './stale-routes.ts';

const up = (instance: string) => ({
  instance,
  revision: 1,
  version: 'v1',
  address: `127.0.0.1:${instance.length}`,
});
const table: RouteTable = {
  version: 7,
  services: [
    { name: 'web', host: '*', pathPrefix: '/', balance: 'roundRobin', upstreams: [up('web-a'), up('web-b')] },
    { name: 'api', host: 'api', pathPrefix: '/', balance: 'roundRobin', upstreams: [up('api-a')] },
  ],
};

test('pruning the persisted routes keeps live instances, drops dead ones, and leaves an all-alive table alone', () => {
  assert.equal(
    pruneTable(table, () => true),
    null,
  );
  const next = pruneTable(table, (id) => id === 'web-b');
  assert.deepEqual(
    next?.services.map((s) => [s.name, s.upstreams.map((u) => u.instance)]),
    [
      ['web', ['web-b']],
      ['api', []],
    ],
  );
  assert.equal(next?.version, 7, 'the version stays: the controller pushes a newer one');
});

test('the routes file is rewritten only when an instance is gone; a missing or broken file is left alone', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-stale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'routes.json');
  assert.deepEqual(
    pruneRoutesFile(file, () => false),
    [],
  );
  writeFileSync(file, '{not json');
  assert.deepEqual(
    pruneRoutesFile(file, () => false),
    [],
  );
  assert.equal(readFileSync(file, 'utf8'), '{not json');
  writeFileSync(file, JSON.stringify(table));
  assert.deepEqual(
    pruneRoutesFile(file, () => true),
    [],
  );
  assert.deepEqual(
    pruneRoutesFile(file, (id) => id !== 'web-a'),
    ['web-a'],
  );
  const saved = JSON.parse(readFileSync(file, 'utf8')) as RouteTable;
  assert.deepEqual(
    saved.services[0].upstreams.map((u) => u.instance),
    ['web-b'],
  );
});
