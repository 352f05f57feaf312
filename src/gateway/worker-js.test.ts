import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
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
import { workerEntry, workerScript } from './worker-js.ts';

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

test('the worker copy is plain JavaScript that runs, with every module it imports for a value and none it imports for a type', (t) => {
  const root = tree(t);
  const script = workerScript(path.join(root, 'src/gateway/worker.ts'), root);
  assert.ok(script.startsWith(path.join(root, 'node_modules', '.cache', 'cutover-gateway')));
  assert.ok(script.endsWith(path.join('src', 'gateway', 'worker.mjs')));
  const dir = path.dirname(path.dirname(path.dirname(script)));
  assert.ok(existsSync(path.join(dir, 'src/util/twice.mjs')));
  assert.ok(!existsSync(path.join(dir, 'src/gateway/shape.mjs')), 'a type-only import is not copied');
  const js = readFileSync(script, 'utf8');
  assert.match(js, /from '\.\.\/util\/twice\.mjs'/);
  assert.doesNotMatch(js, /\.ts'/);
  assert.match(js, /sourceURL=file:\/\/.*src\/gateway\/worker\.ts/, 'stack traces name the source');
  // The copy runs without type stripping.
  assert.equal(
    execFileSync(process.execPath, ['--no-experimental-strip-types', script], { encoding: 'utf8' }),
    '42',
  );
});

test('the copy is made once per content: the same sources give the same path, a changed one a new path', (t) => {
  const root = tree(t);
  const entry = path.join(root, 'src/gateway/worker.ts');
  const first = workerScript(entry, root);
  assert.equal(workerScript(entry, root), first);
  writeFileSync(
    path.join(root, 'src/util/twice.ts'),
    'export function twice(n: number): number {\n  return n + n;\n}\n',
  );
  const second = workerScript(entry, root);
  assert.notEqual(second, first);
  assert.equal(execFileSync(process.execPath, [second], { encoding: 'utf8' }), '42');
});

test('a module that cannot be read is an error naming it, and nothing is written', (t) => {
  const root = tree(t);
  writeFileSync(path.join(root, 'src/gateway/worker.ts'), "import { gone } from './gone.ts';\ngone();\n");
  assert.throws(() => workerScript(path.join(root, 'src/gateway/worker.ts'), root), /gone\.ts/);
  assert.ok(!existsSync(path.join(root, 'node_modules', '.cache', 'cutover-gateway')));
});

test('making a new copy removes copies untouched for a week, and keeps recent ones', (t) => {
  const root = tree(t);
  const entry = path.join(root, 'src/gateway/worker.ts');
  const cache = path.join(root, 'node_modules', '.cache', 'cutover-gateway');
  mkdirSync(path.join(cache, 'old'), { recursive: true });
  mkdirSync(path.join(cache, 'recent'), { recursive: true });
  const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000);
  utimesSync(path.join(cache, 'old'), eightDaysAgo, eightDaysAgo);
  const script = workerScript(entry, root);
  assert.deepEqual(
    readdirSync(cache).sort(),
    [path.basename(path.dirname(path.dirname(path.dirname(script)))), 'recent'].sort(),
  );
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
  assert.match(
    readFileSync(path.join(path.dirname(path.dirname(reloaded)), 'util/twice.mjs'), 'utf8'),
    /2 \* n/,
  );
});
