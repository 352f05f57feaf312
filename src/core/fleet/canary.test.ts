import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanaryStrategy } from '../../config/types.ts';
import { abort, promote } from '../commands.ts';
import type { ObservedInstance, ServiceSpec, ServiceState } from '../model.ts';
import { deploy, initialServiceState, reconcileService } from '../service.ts';
import { hostReport, run } from '../test-fixtures.ts';
import { setFleetStep } from './canary.ts';
import { fleetDeploy, fleetPromote } from './commands.ts';
import { followAssignment, serviceReport } from './follow.ts';
import type { FleetServiceSpec, FleetServiceState, FleetTarget, HostReport } from './model.ts';
import { initialFleetState, reconcileFleet } from './rollout.ts';

const v = (version: string): FleetTarget => ({ version, run });

const strategy: CanaryStrategy = {
  type: 'canary',
  canaryReplicas: 1,
  progressDeadlineMs: 600_000,
  mirrorMaxBodyBytes: 1024,
  steps: [
    { setWeight: 10 },
    { pause: { durationMs: 1_000 } },
    { setWeight: 30 },
    { pause: {} },
    { setWeight: 60 },
    { pause: { durationMs: 500 } },
  ],
};
const spec: ServiceSpec = {
  name: 'web',
  replicas: 2,
  revisionHistoryLimit: 10,
  strategy,
  traffic: { rules: [] },
};
const fleetSpec = (hosts: string[]): FleetServiceSpec => ({
  name: 'web',
  hosts,
  hostsAtOnce: '100%',
  onHostLost: 'pause',
  strategy: { type: 'canary', steps: strategy.steps.length, holds: [3] },
});

/**
 * A host of the simulation: the real canary core on a tiny world (started instances are ready on
 * its next reconcile), following its assignment the way the host agent does. A host with
 * `every: k` reconciles only every k-th round, so hosts run at different speeds.
 */
class Host {
  instances: ObservedInstance[] = [];
  seq = 0;
  state: ServiceState;
  actedOn = 0;
  now = 1_000;
  readonly name: string;
  readonly every: number;
  constructor(name: string, every: number) {
    this.name = name;
    this.every = every;
    this.state = initialServiceState('web', 'v1', run, 0);
    this.reconcile();
    this.reconcile();
  }
  reconcile(): void {
    this.now += 100;
    this.instances = this.instances
      .filter((i) => i.state !== 'draining')
      .map((i) => (i.state === 'starting' ? { ...i, state: 'ready', readySince: this.now } : i));
    const plan = reconcileService(spec, this.state, this.instances, this.now);
    this.state = plan.state;
    for (const a of plan.actions) {
      if (a.type === 'start') {
        for (let k = 0; k < a.count; k++) {
          this.instances.push({ id: `i${this.seq++}`, revision: a.revision, state: 'starting', restarts: 0 });
        }
      } else if (a.type === 'drain') {
        this.instances = this.instances.map((i) => (i.id === a.instance ? { ...i, state: 'draining' } : i));
      }
    }
  }
  follow(fleet: FleetServiceState): void {
    const a = fleet.assignments[this.name];
    if (!a) return;
    const action = followAssignment(a, this.state, this.actedOn);
    const apply = (r: { ok: true; state: ServiceState } | { ok: false }) => {
      if (r.ok) this.state = r.state;
    };
    if (action.type === 'deploy') {
      apply(deploy(spec, this.state, action.target.version, action.target.run, this.now));
      // As the host agent: the step limit lands before the deploy's first reconcile.
      if (a.canaryStep !== undefined) apply(setFleetStep(this.state, a.canaryStep));
      this.actedOn = a.generation;
    } else if (action.type === 'fleetStep') apply(setFleetStep(this.state, action.step));
    else if (action.type === 'promote') apply(promote(spec, this.state, this.now, action.full));
    else if (action.type === 'abort') apply(abort(this.state, this.now));
  }
  tick(round: number, fleet: FleetServiceState): void {
    this.follow(fleet);
    if (round % this.every === 0) this.reconcile();
  }
  version(): string {
    return this.state.revisions.find((r) => r.number === this.state.stable)!.version;
  }
  step(): number | undefined {
    return this.state.rollout?.strategy === 'canary' ? this.state.rollout.stepIndex : undefined;
  }
  weight(): number | undefined {
    return this.state.rollout?.strategy === 'canary' ? this.state.rollout.canaryWeight : undefined;
  }
}

function reports(hosts: Host[], fleet: FleetServiceState): Record<string, HostReport> {
  const out: Record<string, HostReport> = {};
  for (const h of hosts) {
    const web = serviceReport(fleet.assignments[h.name], h.state, h.actedOn, {
      ready: 2,
      total: 2,
      routesVersion: 1,
    });
    out[h.name] = hostReport(h.name, web);
  }
  return out;
}

/** Given hosts at different speeds, When a canary of v2 starts, Then run rounds until `until` holds. */
function fleetWorld(speeds: number[]) {
  const hosts = speeds.map((every, i) => new Host(`web-${i + 1}`, every));
  const fs = fleetSpec(hosts.map((h) => h.name));
  let fleet = reconcileFleet(
    fs,
    initialFleetState('web', v('v1')),
    reports(hosts, initialFleetState('web', v('v1'))),
    0,
  ).state;
  const d = fleetDeploy(fs, fleet, v('v2'), 0);
  assert.ok(d.ok);
  fleet = d.state;
  let round = 0;
  const events: string[] = [];
  let widestSplit = 0;
  const roundOnce = () => {
    const r = reconcileFleet(fs, fleet, reports(hosts, fleet), round);
    fleet = r.state;
    events.push(...r.events.map((e) => e.type));
    for (const h of hosts) h.tick(round, fleet);
    // What a user sees: the canary weights applied across the hosts, at most one step apart.
    const weights = new Set(hosts.map((h) => h.weight()).filter((x): x is number => x !== undefined));
    widestSplit = Math.max(widestSplit, weights.size);
    round++;
  };
  return {
    hosts,
    fs,
    events,
    get fleet() {
      return fleet;
    },
    set fleet(f: FleetServiceState) {
      fleet = f;
    },
    widestSplit: () => widestSplit,
    runUntil(done: () => boolean, max = 2_000): void {
      for (let k = 0; k < max && !done(); k++) roundOnce();
      assert.ok(done(), `not reached in ${max} rounds: ${fleet.rollout?.message}`);
    },
    rounds(n: number): void {
      for (let k = 0; k < n; k++) roundOnce();
    },
    reports: () => reports(hosts, fleet),
  };
}

test('canary across hosts: the hosts stay within one weight step of each other and all wait at the untimed pause for the fleet promote', () => {
  const w = fleetWorld([1, 3, 7]);
  // The fastest host reaches the pause first and waits there for the slowest.
  w.runUntil(() => w.hosts.every((h) => h.step() === 3));
  w.rounds(200);
  assert.ok(
    w.hosts.every((h) => h.step() === 3 && h.weight() === 30),
    w.hosts.map((h) => `${h.step()}/${h.weight()}`).join(),
  );
  assert.match(w.fleet.rollout?.message ?? '', /step 4\/6 \(pause\) on every host: waiting for promote/);
  assert.equal(w.widestSplit(), 2, 'the hosts ran at most two different weights at once');
  assert.ok(w.events.includes('FleetCanaryStep'));

  const p = fleetPromote(w.fs, w.fleet, w.reports(), false);
  assert.ok(p.ok, p.ok ? '' : p.message);
  w.fleet = p.state;
  w.runUntil(() => w.fleet.rollout === undefined);
  assert.equal(w.fleet.lastRollout?.phase, 'Succeeded', w.fleet.lastRollout?.message);
  assert.equal(w.widestSplit(), 2, 'the hosts ran at most two different weights at once');
  assert.ok(w.hosts.every((h) => h.version() === 'v2' && h.state.rollout === undefined));
});

test('the fleet promote of a canary is refused while the hosts are not held at a pause; --full skips every remaining step', () => {
  const w = fleetWorld([1, 2]);
  w.rounds(2);
  const early = fleetPromote(w.fs, w.fleet, w.reports(), false);
  assert.ok(!early.ok && early.code === 'not_paused', early.ok ? '' : early.message);
  const full = fleetPromote(w.fs, w.fleet, w.reports(), true);
  assert.ok(full.ok);
  w.fleet = full.state;
  w.runUntil(() => w.fleet.rollout === undefined);
  assert.equal(w.fleet.lastRollout?.phase, 'Succeeded');
  assert.ok(w.hosts.every((h) => h.version() === 'v2'));
  assert.ok(
    w.hosts.every((h) => h.state.lastRollout?.strategy === 'canary' && h.state.lastRollout.fullPromote),
  );
});

test("one host's failed canary (its analysis aborts) rolls every host back to the stable revision", () => {
  const w = fleetWorld([1, 1, 2]);
  w.runUntil(() => w.hosts.every((h) => (h.step() ?? 0) >= 1));
  // web-2's analysis fails: its local canary aborts, as the analysis core does.
  const bad = w.hosts[1];
  const r = abort(bad.state, bad.now);
  assert.ok(r.ok);
  bad.state = r.state;
  w.runUntil(() => w.fleet.rollout === undefined);
  assert.equal(w.fleet.lastRollout?.phase, 'RolledBack');
  assert.match(w.fleet.lastRollout?.reason ?? '', /host web-2/);
  w.rounds(50);
  assert.ok(
    w.hosts.every((h) => h.version() === 'v1' && h.state.rollout === undefined),
    w.hosts.map((h) => `${h.name}:${h.version()}:${h.state.phase}`).join(),
  );
  assert.ok(w.hosts.every((h) => h.instances.every((i) => i.revision === h.state.stable)));
});
