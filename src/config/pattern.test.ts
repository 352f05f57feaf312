import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CATASTROPHIC_MESSAGE, compilePattern, MAX_PATTERN_LENGTH } from './pattern.ts';

function ok(src: string): RegExp {
  const r = compilePattern(src);
  if (!r.ok) assert.fail(`${src}: ${r.message}`);
  return r.re;
}

function fail(src: string): string {
  const r = compilePattern(src);
  assert.equal(r.ok, false, `expected ${src} to be rejected`);
  return r.ok ? '' : r.message;
}

describe('compilePattern', () => {
  test('compiles ordinary rule patterns', () => {
    for (const src of [
      '^beta',
      'iphone|android',
      '^v[0-9]+$',
      'Chrome/\\d+',
      '(foo|bar)+',
      '(\\d|x)+',
      '(?:ab){2}',
      '(a{2})+',
      '\\(a+\\)+',
      '[(]+',
      'x{2,3}',
      'a{',
      '(?<v>\\d+)\\.\\k<v>',
      '(?=a)b',
      '\\bMobile\\b',
    ]) {
      ok(src);
    }
  });

  test('a leading (?i) becomes the i flag', () => {
    const re = ok('(?i)iphone|android');
    assert.equal(re.source, 'iphone|android');
    assert.equal(re.flags, 'i');
    assert.ok(re.test('Mozilla (iPhone; CPU)'));
    const cs = ok('iphone');
    assert.equal(cs.flags, '');
    assert.ok(!cs.test('iPhone'));
  });

  test('rejects nested quantifiers and overlapping repeated alternatives', () => {
    for (const src of [
      '(a+)+',
      '(a*)*',
      '(a|aa)+',
      '(.*)*',
      '(\\w+\\s?)+',
      '^(a+)+$',
      '(a?){3}',
      '((ab)*)+',
      '(?:x+y?)*',
      '(\\w|\\d)*',
      '(?:[a-c]|b)+',
      '(?i)(A|a)+',
      'ok|(x+)+',
      '([a-z]+)*@',
    ]) {
      const message = fail(src);
      assert.ok(message.startsWith(CATASTROPHIC_MESSAGE), `${src}: ${message}`);
    }
    assert.match(fail('^(a+)+$'), /"\(a\+\)\+"/);
  });

  test('the rejected patterns really are slow, the accepted ones are not (sanity)', () => {
    const input = `${'a'.repeat(22)}!`;
    const t0 = performance.now();
    /^(a+)+$/.test(input);
    const slow = performance.now() - t0;
    // A relative comparison, not a time limit; the fastest of a few runs of the accepted pattern so that
    // one descheduling of this process on a busy machine cannot make the linear pattern look slow.
    const accepted = ok('^(?:a)+$');
    let fast = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const t1 = performance.now();
      accepted.test(input);
      fast = Math.min(fast, performance.now() - t1);
    }
    assert.ok(fast < slow, `accepted ${fast.toFixed(3)} ms, rejected ${slow.toFixed(3)} ms`);
  });

  test('invalid patterns', () => {
    assert.match(fail('('), /^invalid regular expression: Unterminated group$/);
    assert.match(fail('[a'), /^invalid regular expression: /);
    assert.match(fail('a**'), /^invalid regular expression: Nothing to repeat$/);
    assert.match(fail('x(?i)y'), /only a leading "\(\?i\)" is supported/);
    assert.match(fail(''), /must not be empty/);
    assert.match(fail('(?i)'), /must not be empty/);
    assert.match(compilePattern(5 as unknown as string).ok ? '' : 'string', /string/);
  });

  test('length is capped', () => {
    ok('a'.repeat(MAX_PATTERN_LENGTH));
    assert.match(fail('a'.repeat(MAX_PATTERN_LENGTH + 1)), /too long \(257 > 256 characters\)/);
  });

  // The analysis must not grow exponentially with the number of alternations (3^10 paths here). The test's
  // generous timeout is the bound: a blow-up misses it by far, a busy CI machine does not.
  test('is cheap', { timeout: 60_000 }, () => {
    const src = `(?i)${'(?:alpha|beta|gamma)'.repeat(10)}`;
    for (let i = 0; i < 200; i++) ok(src);
  });
});
