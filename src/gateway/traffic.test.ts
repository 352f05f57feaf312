import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteTraffic } from './protocol.ts';
import {
  bucketOf,
  compileMirror,
  compileTraffic,
  findCookie,
  fnv1a32,
  pathHasPrefix,
  type RequestHeaders,
} from './traffic.ts';

function decider(t: Partial<RouteTraffic>) {
  const c = compileTraffic({ canaryWeight: 0, rules: [], ...t });
  assert.deepEqual(c.problems, []);
  return c.decide;
}

test('fnv1a32 matches the reference vectors (UTF-8 bytes)', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  // Non-ASCII keys hash their UTF-8 encoding.
  let h = 0x811c9dc5;
  for (const b of Buffer.from('é✓', 'utf8')) h = Math.imul(h ^ b, 0x01000193);
  assert.equal(fnv1a32('é✓'), h >>> 0);
  assert.ok(bucketOf('user-1') >= 0 && bucketOf('user-1') < 10000);
});

test('decision table: preview, rules in order (first match wins), weight', () => {
  const decide = decider({
    canaryWeight: 0,
    stickyBy: { source: 'cookie', name: 'uid' },
    preview: { header: 'X-Preview', value: 'yes' },
    rules: [
      { match: { header: { 'X-Force': { exact: 'stable' } } }, to: 'stable' },
      { match: { header: { 'X-Beta': { exact: 'on' } } }, to: 'canary' },
      { match: { header: { 'X-Team': { prefix: 'qa-' } } }, to: 'canary' },
      { match: { header: { 'X-Build': { regex: '(?i)^rc\\d+$' } } }, to: 'canary' },
      { match: { cookie: { flag: { exact: 'beta' } } }, to: 'canary' },
      { match: { query: { canary: { exact: '1' } } }, to: 'canary' },
      { match: { userIn: ['alice', 'bob'] }, to: 'canary' },
      { match: { userAgent: '(?i)iphone|android' }, to: 'canary' },
      // Both conditions must hold.
      { match: { header: { 'X-A': { exact: '1' } }, query: { b: { prefix: 'x' } } }, to: 'canary' },
    ],
  });
  const cases: [string, RequestHeaders, string, string][] = [
    ['nothing', {}, '/', 'stable'],
    ['preview header', { 'x-preview': 'yes' }, '/', 'preview'],
    ['preview wrong value', { 'x-preview': 'no' }, '/', 'stable'],
    ['preview beats rules', { 'x-preview': 'yes', 'x-beta': 'on' }, '/', 'preview'],
    ['header exact', { 'x-beta': 'on' }, '/', 'canary'],
    ['header exact mismatch', { 'x-beta': 'ON' }, '/', 'stable'],
    ['first match wins', { 'x-force': 'stable', 'x-beta': 'on' }, '/', 'stable'],
    ['header prefix', { 'x-team': 'qa-berlin' }, '/', 'canary'],
    ['header prefix mismatch', { 'x-team': 'dev-qa-' }, '/', 'stable'],
    ['header regex (?i)', { 'x-build': 'RC12' }, '/', 'canary'],
    ['header regex mismatch', { 'x-build': 'rc12b' }, '/', 'stable'],
    ['cookie exact', { cookie: 'a=1; flag=beta; z=2' }, '/', 'canary'],
    ['cookie quoted', { cookie: 'flag="beta"' }, '/', 'canary'],
    ['cookie other name', { cookie: 'xflag=beta' }, '/', 'stable'],
    ['query exact', {}, '/p?x=2&canary=1', 'canary'],
    ['query absent', {}, '/p?canary=0', 'stable'],
    ['query not in path', {}, '/canary=1', 'stable'],
    ['userIn on sticky key', { cookie: 'uid=bob' }, '/', 'canary'],
    ['userIn other user', { cookie: 'uid=carol' }, '/', 'stable'],
    ['userAgent regex', { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)' }, '/', 'canary'],
    ['userAgent mismatch', { 'user-agent': 'curl/8' }, '/', 'stable'],
    ['all conditions: both', { 'x-a': '1' }, '/?b=xyz', 'canary'],
    ['all conditions: one', { 'x-a': '1' }, '/?b=yz', 'stable'],
  ];
  for (const [what, headers, target, want] of cases) {
    assert.equal(decide(headers, target), want, what);
  }
});

test('weight 0 and 100 are absolute; a rule still overrides the weight', () => {
  const zero = decider({ canaryWeight: 0 });
  const all = decider({
    canaryWeight: 100,
    rules: [{ match: { header: { 'x-stay': { exact: '1' } } }, to: 'stable' }],
  });
  for (let i = 0; i < 200; i++) {
    assert.equal(zero({}, '/'), 'stable');
    assert.equal(all({}, '/'), 'canary');
    assert.equal(all({ 'x-stay': '1' }, '/'), 'stable');
  }
});

test('without a sticky key the split is random with the weight', () => {
  const decide = decider({ canaryWeight: 30, stickyBy: { source: 'header', name: 'x-user' } });
  let canary = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) if (decide({}, '/') === 'canary') canary++;
  assert.ok(Math.abs((canary / n) * 100 - 30) < 1.5, `${canary}/${n}`);
});

test('sticky: the same key always lands in the same group, from every source', () => {
  for (const source of ['header', 'cookie', 'query'] as const) {
    const decide = decider({ canaryWeight: 37.5, stickyBy: { source, name: 'uid' } });
    for (let k = 0; k < 500; k++) {
      const key = `user-${k}`;
      const headers: RequestHeaders =
        source === 'header' ? { uid: key } : source === 'cookie' ? { cookie: `uid=${key}` } : {};
      const target = source === 'query' ? `/x?uid=${key}` : '/x';
      const first = decide(headers, target);
      assert.equal(first, bucketOf(key) < 3750 ? 'canary' : 'stable');
      for (let r = 0; r < 5; r++) assert.equal(decide(headers, target), first, `${source} ${key}`);
    }
  }
});

test('sticky: monotonic as the weight grows (every key on canary at 10% is on canary at 50%)', () => {
  const weights = [1, 5, 10, 25, 50, 75, 99];
  const deciders = weights.map((w) =>
    decider({ canaryWeight: w, stickyBy: { source: 'header', name: 'x-user' } }),
  );
  for (let k = 0; k < 20_000; k++) {
    const h = { 'x-user': `u${k}` };
    let wasCanary = false;
    for (let i = 0; i < weights.length; i++) {
      const canary = deciders[i](h, '/') === 'canary';
      assert.ok(canary || !wasCanary, `key u${k} left canary when the weight grew to ${weights[i]}`);
      wasCanary = canary;
    }
  }
});

test('sticky: measured split over 20,000 distinct keys is within 1.5 points at 10% and 50%', () => {
  for (const weight of [10, 50]) {
    for (const prefix of ['user-', 'a1b2c3d4-', '']) {
      const decide = decider({ canaryWeight: weight, stickyBy: { source: 'cookie', name: 'sid' } });
      let canary = 0;
      const n = 20_000;
      for (let k = 0; k < n; k++) {
        if (decide({ cookie: `sid=${prefix}${k}` }, '/') === 'canary') canary++;
      }
      const pct = (canary / n) * 100;
      assert.ok(Math.abs(pct - weight) <= 1.5, `weight ${weight} keys ${prefix}N: ${pct.toFixed(2)}%`);
    }
  }
});

test('bad patterns are reported and never match (validation rejects them first)', () => {
  const c = compileTraffic({
    canaryWeight: 0,
    rules: [
      { match: { header: { x: { regex: '(a+)+$' } } }, to: 'canary' },
      { match: { userAgent: '([' }, to: 'canary' },
    ],
  });
  assert.equal(c.problems.length, 2);
  assert.match(c.problems[0], /^rules\[0\]\.match\.header\["x"\]\.regex: /);
  assert.match(c.problems[1], /^rules\[1\]\.match\.userAgent: invalid regular expression/);
  assert.equal(c.decide({ x: 'aaaa', 'user-agent': '([' }, '/'), 'stable');
});

test('cookies, mirror filter and path prefixes', () => {
  for (const [header, name, want] of [
    ['a=1;b = 2 ; a=3', 'a', '1'], // first occurrence wins
    ['a=1;b = 2 ; a=3', 'b', '2'],
    ['xa=1; a=2', 'a', '2'],
    ['a; a=4', 'a', '4'],
    ['c="q"', 'c', 'q'],
    ['c=', 'c', ''],
    ['ab=1', 'a', undefined],
    ['', 'a', undefined],
  ] as const) {
    assert.equal(findCookie(header, name), want, `${header} ${name}`);
  }
  const m = compileMirror({ percent: 10, methods: ['get', 'POST'], pathPrefix: '/api', maxBodyBytes: 10 });
  assert.ok(m.matches('GET', '/api/x'));
  assert.ok(m.matches('POST', '/api?q'));
  assert.ok(!m.matches('PUT', '/api/x'));
  assert.ok(!m.matches('GET', '/apix'));
  assert.ok(compileMirror({ percent: 10, maxBodyBytes: 0 }).matches('DELETE', '/anything'));
  assert.ok(pathHasPrefix('/a/', '/a/'));
  assert.ok(!pathHasPrefix('/b', '/a'));
});
