import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { bundleScript, workerEntry } from './worker-js.ts';

function tree(t: TestContext): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cutover-worker-js-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'src', 'gateway'), { recursive: true });
  mkdirSync(path.join(root, 'src', 'util'), { recursive: true });
  const put = (rel: string, text: string) => writeFileSync(path.join(root, rel), text);
  put(
    'src/gateway/worker.ts',
    [
      "import type { Shape } from './shape.ts';",
      "import { twice } from '../util/twice.ts';",
      "export { twice } from '../util/twice.ts';",
      'const s: Shape = { n: 21 };',
      'process.stdout.write(String(twice(s.n)));',
      '',
    ].join('\n'),
  );
  put('src/gateway/shape.ts', 'export interface Shape { n: number }\n');
  put('src/util/twice.ts', 'export function twice(n: number): number {\n  return n * 2;\n}\n');
  return root;
}

test('the worker bundle is one plain JavaScript file that runs, with every module it imports for a value, and a map back to the sources', (t) => {
  const root = tree(t);
  const script = bundleScript(path.join(root, 'src/gateway/worker.ts'), root);
  const dir = path.dirname(script);
  assert.equal(path.dirname(dir), path.join(root, 'node_modules', '.cache', 'cutover-gateway'));
  assert.deepEqual(readdirSync(dir).sort(), ['worker.mjs', 'worker.mjs.map']);
  const js = readFileSync(script, 'utf8');
  assert.match(js, /\/\/ src\/util\/twice\.ts\nfunction twice\(n\)/, 'each module under its source name');
  assert.doesNotMatch(js, /\bimport\b/, 'no import is left (a type-only one is dropped)');
  assert.doesNotMatch(js, /Shape/);
  const map = JSON.parse(readFileSync(`${script}.map`, 'utf8')) as { sources: string[] };
  assert.deepEqual(map.sources.map((s) => path.resolve(dir, s)).sort(), [
    path.join(root, 'src/gateway/worker.ts'),
    path.join(root, 'src/util/twice.ts'),
  ]);
  // The bundle runs without type stripping.
  assert.equal(
    execFileSync(process.execPath, ['--no-experimental-strip-types', script], { encoding: 'utf8' }),
    '42',
  );
});

test('with --enable-source-maps a stack trace from the bundle names the source file and line', (t) => {
  const root = tree(t);
  writeFileSync(
    path.join(root, 'src/util/twice.ts'),
    'export function twice(n: number): number {\n  throw new Error(String(n));\n}\n',
  );
  const script = bundleScript(path.join(root, 'src/gateway/worker.ts'), root);
  const run = spawnSync(process.execPath, ['--enable-source-maps', script], { encoding: 'utf8' });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /src\/util\/twice\.ts:2/);
});

test('the copy is made once per content: the same sources give the same path, a changed one a new path', (t) => {
  const root = tree(t);
  const entry = path.join(root, 'src/gateway/worker.ts');
  const first = bundleScript(entry, root);
  assert.equal(bundleScript(entry, root), first);
  writeFileSync(
    path.join(root, 'src/util/twice.ts'),
    'export function twice(n: number): number {\n  return n + n;\n}\n',
  );
  const second = bundleScript(entry, root);
  assert.notEqual(second, first);
  assert.equal(execFileSync(process.execPath, [second], { encoding: 'utf8' }), '42');
});

test('a module that cannot be read is an error naming it, and nothing is written', (t) => {
  const root = tree(t);
  writeFileSync(path.join(root, 'src/gateway/worker.ts'), "import { gone } from './gone.ts';\ngone();\n");
  assert.throws(() => bundleScript(path.join(root, 'src/gateway/worker.ts'), root), /gone\.ts/);
  assert.deepEqual(readdirSync(path.join(root, 'node_modules', '.cache', 'cutover-gateway')), []);
});

test('making a new copy removes copies untouched for a week, and keeps recent ones', (t) => {
  const root = tree(t);
  const entry = path.join(root, 'src/gateway/worker.ts');
  const cache = path.join(root, 'node_modules', '.cache', 'cutover-gateway');
  mkdirSync(path.join(cache, 'old'), { recursive: true });
  mkdirSync(path.join(cache, 'recent'), { recursive: true });
  const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000);
  utimesSync(path.join(cache, 'old'), eightDaysAgo, eightDaysAgo);
  const script = bundleScript(entry, root);
  assert.deepEqual(readdirSync(cache).sort(), [path.basename(path.dirname(script)), 'recent'].sort());
});

test('each generation of workers gets a copy of the sources as they are when it starts; a worker restarted within one gets its siblings', (t) => {
  const root = tree(t);
  const entry = path.join(root, 'src/gateway/worker.ts');
  const warn = () => assert.fail('no warning expected');
  const first = workerEntry(entry, 1, warn);
  writeFileSync(
    path.join(root, 'src/util/twice.ts'),
    'export function twice(n: number): number {\n  return 2 * n;\n}\n',
  );
  assert.equal(workerEntry(entry, 1, warn), first, 'a restart within generation 1');
  const reloaded = workerEntry(entry, 2, warn);
  assert.notEqual(reloaded, first, 'a reload runs the changed source');
  assert.match(readFileSync(reloaded, 'utf8'), /2 \* n/);
});
