import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBuckets } from './rate-bucket.ts';

const P = { requests: 100, perMs: 1000, burst: 200 };

test('a grant is a batch while the bucket is well filled and exactly what is wanted when it runs low', () => {
  const rows: Array<{ tokens: number; want: number; shares: number; granted: number }> = [
    { tokens: 200, want: 1, shares: 2, granted: 50 },
    { tokens: 200, want: 80, shares: 2, granted: 80 },
    { tokens: 200, want: 500, shares: 2, granted: 200 },
    { tokens: 3, want: 1, shares: 2, granted: 1 },
    { tokens: 3, want: 2, shares: 2, granted: 2 },
    { tokens: 3, want: 9, shares: 1, granted: 3 },
  ];
  for (const r of rows) {
    const b = new TokenBuckets(P);
    if (r.tokens < P.burst) b.take('k', P.burst - r.tokens, 1, 0);
    const g = b.take('k', r.want, r.shares, 0);
    assert.equal(g.granted, r.granted, JSON.stringify(r));
    assert.equal(g.remaining, r.tokens - r.granted);
  }
});

test('an empty bucket grants nothing and says when the next token is there', () => {
  const b = new TokenBuckets(P);
  assert.equal(b.take('k', 200, 1, 0).granted, 200);
  assert.deepEqual(b.take('k', 1, 1, 0), { granted: 0, remaining: 0, retryAfterMs: 10 });
  assert.deepEqual(b.take('k', 1, 1, 4), { granted: 0, remaining: 0, retryAfterMs: 6 });
  assert.equal(b.take('k', 1, 1, 10).granted, 1);
  // Another key has its own bucket.
  assert.equal(b.take('other', 1, 1, 10).granted, 50 * 2);
});

test('tokens given back return to the bucket, never beyond burst; full buckets are swept', () => {
  const b = new TokenBuckets(P);
  b.take('k', 150, 1, 0);
  b.giveBack('k', 400, 0);
  assert.equal(b.take('k', 1000, 1, 0).granted, 200);
  b.giveBack('k', 20, 0);
  const lease = b.take('full', 1, 1, 0).granted;
  b.giveBack('full', lease, 0);
  b.sweep(0);
  assert.equal(b.size, 1, 'only the bucket that is not full is kept');
  b.sweep(2000);
  assert.equal(b.size, 0);
});

test('invariant: whatever two workers ask, at any time the grants never exceed burst + rate x elapsed', () => {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const b = new TokenBuckets(P);
  let granted = 0;
  let now = 0;
  let asks = 0;
  while (now < 60_000) {
    now += rnd() * 20;
    const g = b.take('k', 1 + Math.floor(rnd() * 30), 2, now);
    asks++;
    granted += g.granted;
    // Some leases come back unspent.
    if (g.granted > 1 && rnd() < 0.1) {
      const back = Math.floor(g.granted / 2);
      b.giveBack('k', back, now);
      granted -= back;
    }
    assert.ok(granted <= P.burst + (P.requests * now) / P.perMs + 1e-9, `${granted} granted at ${now} ms`);
  }
  assert.ok(asks > 1000);
  // Demand always exceeded the refill: the grants track it closely.
  assert.ok(granted >= (P.requests * now) / P.perMs, `${granted} granted at ${now} ms`);
});
