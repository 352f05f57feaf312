import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyRunOverrides } from './overrides.ts';
import type { RunSpec } from './types.ts';

const base = (): RunSpec => ({ command: './server', cwd: '/srv/app', env: { A: '1' } });

describe('applyRunOverrides', () => {
  test('applies command, cwd and env overrides to a copy', () => {
    const run = base();
    const r = applyRunOverrides(
      run,
      ['run.env.B=x=y', 'run.command=./server --debug', 'run.cwd=sub', 'run.env.A='],
      '/cli',
    );
    assert.ok(r.ok);
    assert.deepEqual(r.run, { command: './server --debug', cwd: '/cli/sub', env: { A: '', B: 'x=y' } });
    assert.deepEqual(run, base(), 'input must not be mutated');
    assert.notEqual(r.run.env, run.env);
  });

  test('no sets returns an equal but distinct object', () => {
    const run = base();
    const r = applyRunOverrides(run, []);
    assert.ok(r.ok);
    assert.deepEqual(r.run, run);
    assert.notEqual(r.run, run);
  });

  test('absolute cwd is kept, later sets win', () => {
    const r = applyRunOverrides(base(), ['run.cwd=/a', 'run.cwd=/b/../c']);
    assert.ok(r.ok);
    assert.equal(r.run.cwd, '/c');
  });

  const bad: [string, RegExp][] = [
    ['run.env', /expected KEY=VALUE/],
    ['run.port=1', /unknown key "run.port"; only run.command, run.cwd and run.env.NAME can be set/],
    ['env.FOO=1', /did you mean "run.env.FOO"\?/],
    ['command=x', /did you mean "run.command"\?/],
    ['run.comand=x', /did you mean "run.command"\?/],
    ['run.env.1X=1', /not a valid environment variable name/],
    ['run.env.=1', /not a valid environment variable name/],
    ['run.command=  ', /run.command: must not be empty/],
    ['run.cwd=', /run.cwd: must not be empty/],
    ['version=v2', /unknown key "version"/],
  ];
  for (const [set, message] of bad) {
    test(`rejects --set ${JSON.stringify(set)}`, () => {
      const r = applyRunOverrides(base(), ['run.env.OK=1', set]);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.issues.length, 1);
        assert.equal(r.issues[0].path, '--set[1]');
        assert.match(r.issues[0].message, message);
      }
    });
  }

  test('reports every bad set, not just the first', () => {
    const r = applyRunOverrides(base(), ['nope', 'run.command=ok', 'run.x=1']);
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.deepEqual(
        r.issues.map((i) => i.path),
        ['--set[0]', '--set[2]'],
      );
  });
});
