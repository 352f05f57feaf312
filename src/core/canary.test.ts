import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanaryStrategy } from '../config/types.ts';
import { abort, promote, retry, setPaused, setWeight } from './commands.ts';
import type { CoreEvent, ObservedInstance, Plan, ServiceSpec, ServiceState } from './model.ts';
import { canaryRollout } from './rollout.ts';
import { deploy, initialServiceState, reconcileService } from './service.ts';
import { run } from './test-fixtures.ts';
import { routingView } from './traffic.ts';

const strategy: CanaryStrategy = {
  type: 'canary',
  canaryReplicas: 1,
  progressDeadlineMs: 10_000,
  mirrorMaxBodyBytes: 1024,
  steps: [
    { setWeight: 10 },
    { pause: {} },
    { mirror: { percent: 20 } },
    { setWeight: 50 },
    { pause: { durationMs: 2_000 } },
    { setWeight: 100 },
  ],
};
const spec: ServiceSpec = {
  name: 'web',
  replicas: 4,
  revisionHistoryLimit: 10,
  strategy,
  traffic: { rules: [] },
};

/** A tiny world: started instances are ready on the next reconcile, drained ones vanish. */
class World {
  instances: ObservedInstance[] = [];
  seq = 0;
  state: ServiceState;
  now = 1_000;
  events: CoreEvent[] = [];
  constructor() {
    this.state = initialServiceState('web', 'v1', run, 0);
    this.step();
    this.step();
    assert.equal(this.state.phase, 'Healthy');
  }
  step(ms = 100): Plan {
    this.now += ms;
    this.instances = this.instances
      .filter((i) => i.state !== 'draining')
      .map((i) => (i.state === 'starting' ? { ...i, state: 'ready', readySince: this.now } : i));
    const plan = reconcileService(spec, this.state, this.instances, this.now);
    this.state = plan.state;
    this.events.push(...plan.events);
    for (const a of plan.actions) {
      if (a.type === 'start') {
        for (let k = 0; k < a.count; k++) {
          this.instances.push({ id: `i${this.seq++}`, revision: a.revision, state: 'starting', restarts: 0 });
        }
      } else if (a.type === 'drain') {
        this.instances = this.instances.map((i) => (i.id === a.instance ? { ...i, state: 'draining' } : i));
      }
    }
    return plan;
  }
  count(rev: number) {
    return this.instances.filter((i) => i.revision === rev && i.state !== 'draining').length;
  }
  run(n: number, ms = 100) {
    for (let k = 0; k < n; k++) this.step(ms);
  }
}

test('canary walks its steps: weights, indefinite pause until promote, mirror, timed pause, promotion', () => {
  const w = new World();
  const d = deploy(spec, w.state, 'v2', run, w.now);
  assert.ok(d.ok);
  w.state = d.state;
  w.run(3);
  // setWeight 10 done, then the indefinite pause holds
  assert.equal(canaryRollout(w.state)?.canaryWeight, 10);
  assert.equal(canaryRollout(w.state)?.stepIndex, 1);
  assert.equal(w.state.phase, 'Paused');
  assert.equal(w.state.rollout?.waitingFor, 'pause: waiting for promote');
  assert.equal(w.count(1), 4, 'stable keeps full capacity');
  assert.equal(w.count(2), 1, 'canaryReplicas');
  w.run(20);
  assert.equal(canaryRollout(w.state)?.stepIndex, 1, 'still paused without promote');
  const p = promote(spec, w.state, w.now, false);
  assert.ok(p.ok);
  w.state = p.state;
  w.run(3);
  assert.deepEqual(canaryRollout(w.state)?.mirror, { percent: 20 });
  assert.equal(canaryRollout(w.state)?.canaryWeight, 50);
  assert.equal(w.count(2), 2, 'canary instances follow the weight (50% of 4)');
  assert.equal(canaryRollout(w.state)?.stepIndex, 4, 'in the timed pause');
  const view = routingView(spec, w.state);
  assert.equal(view.traffic?.canaryWeight, 50);
  assert.deepEqual(view.traffic?.mirror, { percent: 20, maxBodyBytes: 1024 });
  assert.equal(view.roles.get(2), 'canary');
  w.run(25, 100);
  assert.equal(w.state.rollout, undefined, 'promoted after the last step');
  assert.equal(w.state.stable, 2);
  assert.equal(w.state.phase, 'Healthy');
  w.run(2);
  assert.equal(w.count(1), 0);
  assert.equal(w.count(2), 4);
  const types = w.events.map((e) => e.type);
  // Six steps: the indefinite pause is passed by the promote command (its own RolloutPromoted event).
  assert.equal(types.filter((t) => t === 'StepCompleted').length, 5, types.join(','));
  assert.equal(types.at(-1), 'RolloutSucceeded');
  assert.ok(types.includes('RolloutPaused'));
});

test('promote --full skips the remaining steps; promote outside a pause is refused', () => {
  const w = new World();
  const d = deploy(spec, w.state, 'v2', run, w.now);
  assert.ok(d.ok);
  w.state = d.state;
  const early = promote(spec, w.state, w.now, false);
  assert.equal(early.ok, false, 'not at a pause yet');
  const full = promote(spec, w.state, w.now, true);
  assert.ok(full.ok);
  w.state = full.state;
  w.run(5);
  assert.equal(w.state.stable, 2);
  assert.equal(w.state.rollout, undefined);
});

test('abort sends all traffic back to stable at once and drains the canary; retry starts over', () => {
  const w = new World();
  const d = deploy(spec, w.state, 'v2', run, w.now);
  assert.ok(d.ok);
  w.state = d.state;
  w.run(3);
  const a = abort(w.state, w.now);
  assert.ok(a.ok);
  w.state = a.state;
  assert.equal(w.state.phase, 'Aborted');
  const view = routingView(spec, w.state);
  assert.equal(view.roles.has(2), false, 'the canary gets no traffic the moment abort is applied');
  assert.equal(view.traffic?.canaryWeight, 0);
  w.run(2);
  assert.equal(w.count(2), 0);
  assert.equal(w.count(1), 4);
  assert.equal(w.state.phase, 'Aborted', 'stays Aborted until the next rollout');
  const r = retry(spec, w.state, w.now);
  assert.ok(r.ok);
  assert.equal(r.revision, 2);
  assert.equal(canaryRollout(r.state)?.stepIndex, 0);
});

test('pause freezes the steps; resume continues; set-weight changes the split now', () => {
  const w = new World();
  const d = deploy(spec, w.state, 'v2', run, w.now);
  assert.ok(d.ok);
  const paused = setPaused(d.state, true);
  assert.ok(paused.ok);
  w.state = paused.state;
  w.run(5);
  assert.equal(canaryRollout(w.state)?.stepIndex, 0);
  assert.equal(w.state.phase, 'Paused');
  const sw = setWeight(spec, w.state, 25);
  assert.ok(sw.ok);
  w.state = sw.state;
  w.run(2);
  assert.equal(routingView(spec, w.state).traffic?.canaryWeight, 25);
  assert.equal(w.count(2), 1, 'ceil(4 * 25%) = 1');
  const resumed = setPaused(w.state, false);
  assert.ok(resumed.ok);
  w.state = resumed.state;
  w.run(3);
  assert.equal(canaryRollout(w.state)?.stepIndex, 1, 'setWeight 10 applied, now at the pause');
});

test('a canary that never becomes ready is aborted at progressDeadline; stable never changed', () => {
  const w = new World();
  const d = deploy(spec, w.state, 'v3', run, w.now);
  assert.ok(d.ok);
  w.state = d.state;
  for (let k = 0; k < 200 && w.state.rollout; k++) {
    // the canary keeps crashing: never ready
    w.instances = w.instances.map((i) => (i.revision === 2 ? { ...i, state: 'starting' } : i));
    w.now += 100;
    const plan = reconcileService(spec, w.state, w.instances, w.now);
    w.state = plan.state;
    for (const a of plan.actions) {
      if (a.type === 'start') w.instances.push({ id: `c${k}`, revision: 2, state: 'starting', restarts: 1 });
    }
  }
  assert.equal(w.state.rollout, undefined);
  assert.equal(w.state.phase, 'Degraded');
  assert.equal(w.state.lastRollout?.phase, 'Failed');
  assert.equal(w.state.stable, 1);
  assert.equal(w.state.revisions.find((r) => r.number === 2)?.outcome, 'failed');
});
