import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BlueGreenStrategy } from '../config/types.ts';
import { abort, promote, undoOrSwitchBack } from './commands.ts';
import type { ObservedInstance, ServiceSpec, ServiceState } from './model.ts';
import { blueGreenRollout } from './rollout.ts';
import { deploy, initialServiceState, reconcileService } from './service.ts';
import { run } from './test-fixtures.ts';
import { routingView } from './traffic.ts';

const bg = (o: Partial<BlueGreenStrategy> = {}): ServiceSpec => ({
  name: 'web',
  replicas: 2,
  revisionHistoryLimit: 10,
  traffic: { rules: [] },
  strategy: {
    type: 'blueGreen',
    previewReplicas: 2,
    autoPromote: false,
    autoPromoteAfterMs: 0,
    scaleDownDelayMs: 5_000,
    preview: { header: 'x-cutover-preview', value: 'true' },
    progressDeadlineMs: 10_000,
    ...o,
  },
});

function sim(spec: ServiceSpec) {
  let instances: ObservedInstance[] = [];
  let seq = 0;
  let now = 1_000;
  let state: ServiceState = initialServiceState('web', 'v1', run, 0);
  const step = (ms = 100) => {
    now += ms;
    instances = instances
      .filter((i) => i.state !== 'draining')
      .map((i) => (i.state === 'starting' ? { ...i, state: 'ready', readySince: now } : i));
    const plan = reconcileService(spec, state, instances, now);
    state = plan.state;
    for (const a of plan.actions) {
      if (a.type === 'start') {
        for (let k = 0; k < a.count; k++)
          instances.push({ id: `i${seq++}`, revision: a.revision, state: 'starting', restarts: 0 });
      } else if (a.type === 'drain')
        instances = instances.map((i) => (i.id === a.instance ? { ...i, state: 'draining' } : i));
    }
  };
  step();
  step();
  return {
    step,
    get state() {
      return state;
    },
    set state(s: ServiceState) {
      state = s;
    },
    get now() {
      return now;
    },
    live: (rev: number) => instances.filter((i) => i.revision === rev && i.state !== 'draining').length,
  };
}

test('blue-green: preview starts beside the active side, promote switches at once, old side stays warm then drains', () => {
  const spec = bg();
  const w = sim(spec);
  const d = deploy(spec, w.state, 'v2', run, w.now);
  assert.ok(d.ok);
  w.state = d.state;
  w.step();
  w.step();
  assert.equal(w.state.phase, 'Paused');
  assert.equal(w.state.rollout?.waitingFor, 'preview ready: waiting for promote');
  let view = routingView(spec, w.state);
  assert.equal(view.roles.get(1), 'stable');
  assert.equal(view.roles.get(2), 'preview');
  assert.deepEqual(view.traffic?.preview, { header: 'x-cutover-preview', value: 'true' });
  const p = promote(spec, w.state, w.now, false);
  assert.ok(p.ok);
  w.state = p.state;
  w.step();
  assert.ok(blueGreenRollout(w.state)?.switchedAt);
  view = routingView(spec, w.state);
  assert.deepEqual([...view.roles], [[2, 'stable']], 'only the new side is routed after the switch');
  assert.equal(w.live(1), 2, 'the old side stays warm during scaleDownDelay');
  for (let k = 0; k < 60; k++) w.step();
  assert.equal(w.state.rollout, undefined);
  assert.equal(w.state.stable, 2);
  w.step();
  assert.equal(w.live(1), 0);
});

test('blue-green: abort within scaleDownDelay switches back without starting anything', () => {
  const spec = bg();
  const w = sim(spec);
  const d = deploy(spec, w.state, 'v2', run, w.now);
  assert.ok(d.ok);
  w.state = d.state;
  w.step();
  w.step();
  const p = promote(spec, w.state, w.now, false);
  assert.ok(p.ok);
  w.state = p.state;
  w.step();
  const back = undoOrSwitchBack(spec, w.state, w.now);
  assert.ok(back.ok);
  w.state = back.state;
  assert.deepEqual([...routingView(spec, w.state).roles], [[1, 'stable']]);
  w.step();
  assert.equal(w.live(1), 2);
  assert.equal(w.live(2), 0);
  assert.equal(w.state.phase, 'Aborted');
  const again = deploy(spec, w.state, 'v3', run, w.now);
  assert.ok(again.ok, 'the next deploy starts again');
});

test('blue-green: abort before promotion tears the preview down; autoPromote switches by itself', () => {
  const spec = bg();
  const w = sim(spec);
  const d = deploy(spec, w.state, 'v2', run, w.now);
  assert.ok(d.ok);
  const a = abort(d.state, w.now);
  assert.ok(a.ok);
  w.state = a.state;
  w.step();
  assert.equal(w.live(2), 0);
  const auto = bg({ autoPromote: true, autoPromoteAfterMs: 300, previewReplicas: 1 });
  const x = sim(auto);
  const d2 = deploy(auto, x.state, 'v2', run, x.now);
  assert.ok(d2.ok);
  x.state = d2.state;
  for (let k = 0; k < 10; k++) x.step();
  assert.ok(blueGreenRollout(x.state)?.switchedAt, 'switched without promote');
  assert.equal(x.live(2), 2, 'a smaller preview is scaled to full size before the switch');
});
