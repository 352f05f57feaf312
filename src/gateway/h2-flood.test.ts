import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROL_FRAME_BURST, CONTROL_FRAME_RATE, ControlFrameBudget } from './h2-flood.ts';

test('a burst of control frames is allowed, one more is not, and the budget refills at its rate', () => {
  let now = 0;
  const budget = new ControlFrameBudget(() => now);
  for (let i = 0; i < CONTROL_FRAME_BURST; i++) assert.equal(budget.take(), true, `frame ${i}`);
  assert.equal(budget.take(), false);
  now += 1000;
  for (let i = 0; i < CONTROL_FRAME_RATE; i++) assert.equal(budget.take(), true, `refilled frame ${i}`);
  assert.equal(budget.take(), false);
});

test('a client well under the rate never runs out', () => {
  let now = 0;
  const budget = new ControlFrameBudget(() => now);
  for (let i = 0; i < 10 * CONTROL_FRAME_BURST; i++) {
    now += 2000 / CONTROL_FRAME_RATE;
    assert.equal(budget.take(), true);
  }
});
