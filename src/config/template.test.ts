// biome-ignore-all lint/suspicious/noTemplateCurlyInString: tests use literal ${NAME} placeholders
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { substitute, substituteRun } from './template.ts';

describe('substitute', () => {
  const vars = { PORT: '4001', VERSION: 'v2', INSTANCE: 'web-1-abcd', SERVICE: 'web', REVISION: '7' };
  const cases: [string, Record<string, string>, string][] = [
    ['./releases/${VERSION}/server --port ${PORT}', vars, './releases/v2/server --port 4001'],
    ['${SERVICE}-${INSTANCE}@${REVISION}', vars, 'web-web-1-abcd@7'],
    ['${PORT}${PORT}', vars, '40014001'],
    ['echo ${HOME} $PORT ${port}', vars, 'echo ${HOME} $PORT ${port}'],
    ['${FOO}', { FOO: 'bar' }, '${FOO}'],
    ['--port ${PORT} --v ${VERSION}', { VERSION: 'v1' }, '--port ${PORT} --v v1'],
    ['${VERSION}', { VERSION: '${PORT}', PORT: '1' }, '${PORT}'],
    ['${VERSION', vars, '${VERSION'],
    ['$${PORT}', vars, '$4001'],
    ['', vars, ''],
    ['${toString}', vars, '${toString}'],
  ];
  for (const [template, v, expected] of cases) {
    test(`${JSON.stringify(template)} with ${Object.keys(v).join(',')} -> ${JSON.stringify(expected)}`, () => {
      assert.equal(substitute(template, v), expected);
    });
  }

  test('substituteRun substitutes command and env values without mutating its input', () => {
    const run = { command: 'srv --port ${PORT}', cwd: '/x', env: { A: '${VERSION}', B: '${HOME}' } };
    const frozen = structuredClone(run);
    assert.deepEqual(substituteRun(run, { PORT: '1', VERSION: 'v9' }), {
      command: 'srv --port 1',
      cwd: '/x',
      env: { A: 'v9', B: '${HOME}' },
    });
    assert.deepEqual(run, frozen);
  });
});
