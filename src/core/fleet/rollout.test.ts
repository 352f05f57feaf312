import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RollingRollout, ServiceState } from '../model.ts';
import { hostReport, run } from '../test-fixtures.ts';
import { fleetAbort, fleetDeploy, fleetPromote, fleetUndo } from './commands.ts';
import { followAssignment, serviceReport } from './follow.ts';
import type { FleetServiceSpec, FleetServiceState, FleetTarget, HostReport } from './model.ts';
import { initialFleetState, reconcileFleet, waveSize } from './rollout.ts';

const v = (version: string): FleetTarget => ({ version, run });

test('wave size: integers are capped by the host count, percentages round up, at least 1', () => {
  const table: Array<[number | string, number, number]> = [
    [1, 3, 1],
    [2, 3, 2],
    [5, 3, 3],
    ['50%', 3, 2],
    ['34%', 3, 2],
    ['33%', 3, 1],
    ['100%', 3, 3],
    ['1%', 20, 1],
    [1, 0, 1],
  ];
  for (const [at, hosts, want] of table) assert.equal(waveSize(at, hosts), want, `${at} of ${hosts}`);
});

/**
 * A host as the simulation sees it: a local service state that follows its assignment. A local
 * rollout takes `ticks` reconciles; versions named "bad*" fail on `failOn` hosts.
 */
interface SimHost {
  name: string;
  live: boolean;
  state: ServiceState;
  actedOn: number;
  rolloutTicks: number;
  failing: boolean;
}

function localState(version: string): ServiceState {
  return {
    name: 'web',
    revisions: [{ number: 1, version, run, createdAt: 0, outcome: 'stable' }],
    stable: 1,
    phase: 'Healthy',
  };
}

function rollingTo(state: ServiceState, number: number): RollingRollout {
  return {
    strategy: 'rolling',
    kind: 'deploy',
    from: state.stable,
    to: number,
    phase: 'Progressing',
    startedAt: 0,
    lastProgressAt: 0,
    progressKey: '',
  };
}

/** One tick of a host: act on the assignment, advance a local rollout. */
function stepHost(h: SimHost, fleet: FleetServiceState, ticks: number, badVersions: Set<string>): void {
  const a = fleet.assignments[h.name];
  if (!h.live || !a) return;
  const s = h.state;
  if (s.rollout) {
    h.rolloutTicks++;
    const to = s.revisions.find((r) => r.number === s.rollout!.to)!;
    if (h.rolloutTicks >= ticks) {
      const failed = h.failing && badVersions.has(to.version);
      h.state = failed
        ? {
            ...s,
            rollout: undefined,
            lastRollout: { ...s.rollout, phase: 'Failed', message: 'progress deadline' },
            phase: 'Degraded',
          }
        : {
            ...s,
            stable: to.number,
            rollout: undefined,
            lastRollout: { ...s.rollout, phase: 'Succeeded' },
            phase: 'Healthy',
          };
    }
  }
  const action = followAssignment(a, h.state, h.actedOn);
  if (action.type === 'abort') {
    h.state = { ...h.state, rollout: undefined, phase: 'Degraded' };
  } else if (action.type === 'deploy') {
    const number = Math.max(...h.state.revisions.map((r) => r.number)) + 1;
    const revisions = [
      ...h.state.revisions,
      {
        number,
        version: action.target.version,
        run: action.target.run,
        createdAt: 0,
        outcome: 'progressing' as const,
      },
    ];
    h.state = { ...h.state, revisions, rollout: rollingTo(h.state, number), phase: 'Progressing' };
    h.actedOn = a.generation;
    h.rolloutTicks = 0;
  }
}

function reportsOf(hosts: SimHost[], fleet: FleetServiceState): Record<string, HostReport> {
  const out: Record<string, HostReport> = {};
  for (const h of hosts) {
    if (!h.live) continue;
    const report = serviceReport(fleet.assignments[h.name], h.state, h.actedOn, {
      ready: 2,
      total: 2,
      routesVersion: 1,
    });
    out[h.name] = hostReport(h.name, report);
  }
  return out;
}

function simulate(opts: {
  hosts: number;
  hostsAtOnce: number | string;
  to: string;
  failing?: string[];
  onHostLost?: 'pause' | 'continue';
  /** Called every round; may change hosts (kill one, bring it back). */
  each?: (round: number, hosts: SimHost[], fleet: FleetServiceState) => void;
}) {
  const names = Array.from({ length: opts.hosts }, (_, i) => `web-${i + 1}`);
  const spec: FleetServiceSpec = {
    name: 'web',
    hosts: names,
    hostsAtOnce: opts.hostsAtOnce,
    onHostLost: opts.onHostLost ?? 'pause',
    strategy: { type: 'rolling' },
  };
  const hosts: SimHost[] = names.map((name) => ({
    name,
    live: true,
    state: localState('v1'),
    actedOn: 0,
    rolloutTicks: 0,
    failing: opts.failing?.includes(name) ?? false,
  }));
  let fleet = reconcileFleet(
    spec,
    initialFleetState('web', v('v1')),
    reportsOf(hosts, initialFleetState('web', v('v1'))),
    0,
  ).state;
  for (const h of hosts) stepHost(h, fleet, 2, new Set());
  const started = fleetDeploy(spec, fleet, v(opts.to), 0);
  assert.ok(started.ok);
  fleet = started.state;
  const events: string[] = [];
  let maxOnNewAtOnce = 0;
  const bad = new Set(opts.to.startsWith('bad') ? [opts.to] : []);
  for (let round = 0; round < 200; round++) {
    opts.each?.(round, hosts, fleet);
    const step = reconcileFleet(spec, fleet, reportsOf(hosts, fleet), round);
    fleet = step.state;
    for (const e of step.events) events.push(`${e.type}${e.host ? ` ${e.host}` : ''}`);
    const inFlight = hosts.filter((h) => h.state.rollout !== undefined).length;
    maxOnNewAtOnce = Math.max(maxOnNewAtOnce, inFlight);
    if (!fleet.rollout && round > 0) return { fleet, hosts, events, rounds: round, maxOnNewAtOnce };
    for (const h of hosts) stepHost(h, fleet, 3, bad);
  }
  return { fleet, hosts, events, rounds: 200, maxOnNewAtOnce };
}

const stableVersion = (h: SimHost) => h.state.revisions.find((r) => r.number === h.state.stable)!.version;

test('rolling across hosts: waves of hostsAtOnce, never more hosts rolling at once, every host ends on the new version', () => {
  for (const [hosts, at, wantMax] of [
    [3, 1, 1],
    [3, 2, 2],
    [5, '40%', 2],
    [4, '100%', 4],
  ] as Array<[number, number | string, number]>) {
    const r = simulate({ hosts, hostsAtOnce: at, to: 'v2' });
    assert.equal(r.fleet.lastRollout?.phase, 'Succeeded', `${hosts}/${at}: ${r.fleet.lastRollout?.message}`);
    assert.deepEqual(r.fleet.desired, v('v2'));
    assert.equal(r.maxOnNewAtOnce, wantMax, `${hosts}/${at}`);
    assert.ok(r.hosts.length > 0 && r.hosts.every((h) => stableVersion(h) === 'v2'));
    assert.equal(r.events.filter((e) => e.startsWith('FleetHostDone')).length, hosts);
  }
});

test('a host whose local rollout fails rolls every host back, also those already done', () => {
  const r = simulate({ hosts: 3, hostsAtOnce: 1, to: 'bad2', failing: ['web-2'] });
  assert.equal(r.fleet.lastRollout?.phase, 'RolledBack');
  assert.match(r.fleet.lastRollout?.reason ?? '', /host web-2: progress deadline/);
  assert.deepEqual(r.fleet.desired, v('v1'));
  assert.ok(
    r.hosts.every((h) => stableVersion(h) === 'v1'),
    r.hosts.map(stableVersion).join(),
  );
  // web-1 had finished, web-3 never started.
  assert.ok(r.events.includes('FleetHostDone web-1'));
  assert.ok(!r.events.includes('FleetHostDone web-3'));
  // The failed host is not asked to try the bad version again.
  assert.equal(r.hosts[1].state.revisions.filter((x) => x.version === 'bad2').length, 1);
});

test('a host lost mid-wave pauses the rollout (onHostLost: pause) and it resumes when the host returns', () => {
  let pausedSeen = false;
  const r = simulate({
    hosts: 3,
    hostsAtOnce: 1,
    to: 'v2',
    each: (round, hosts, fleet) => {
      if (fleet.rollout?.wave.includes('web-2') && round < 10) hosts[1].live = false;
      if (fleet.rollout?.phase === 'Paused') pausedSeen = true;
      if (pausedSeen && round >= 15) hosts[1].live = true;
    },
  });
  assert.ok(pausedSeen);
  assert.equal(r.fleet.lastRollout?.phase, 'Succeeded');
  assert.ok(
    r.events.includes('FleetRolloutPaused') && r.events.includes('FleetRolloutResumed'),
    r.events.join(),
  );
  assert.ok(r.hosts.every((h) => stableVersion(h) === 'v2'));
});

test('onHostLost: continue skips a lost host; it converges to the new version when it returns', () => {
  const r = simulate({
    hosts: 3,
    hostsAtOnce: 1,
    to: 'v2',
    onHostLost: 'continue',
    each: (round, hosts) => {
      if (round === 0) hosts[2].live = false;
    },
  });
  assert.equal(r.fleet.lastRollout?.phase, 'Succeeded');
  assert.deepEqual(r.fleet.lastRollout?.skipped, ['web-3']);
  assert.equal(stableVersion(r.hosts[2]), 'v1');
  const spec: FleetServiceSpec = {
    name: 'web',
    hosts: ['web-1', 'web-2', 'web-3'],
    hostsAtOnce: 1,
    onHostLost: 'continue',
    strategy: { type: 'rolling' },
  };
  r.hosts[2].live = true;
  let fleet = r.fleet;
  for (let i = 0; i < 10; i++) {
    fleet = reconcileFleet(spec, fleet, reportsOf(r.hosts, fleet), 1000 + i).state;
    for (const h of r.hosts) stepHost(h, fleet, 2, new Set());
  }
  assert.equal(stableVersion(r.hosts[2]), 'v2');
});

test('abort mid-rollout takes every host back under a new generation; undo after success goes back', () => {
  const spec: FleetServiceSpec = {
    name: 'web',
    hosts: ['a', 'b'],
    hostsAtOnce: 1,
    onHostLost: 'pause',
    strategy: { type: 'rolling' },
  };
  const base = reconcileFleet(spec, initialFleetState('web', v('v1')), {}, 0).state;
  assert.equal(Object.keys(base.assignments).length, 2);
  const d = fleetDeploy(spec, base, v('v2'), 0);
  assert.ok(d.ok);
  const again = fleetDeploy(spec, d.state, v('v3'), 0);
  assert.ok(!again.ok && again.code === 'rollout_in_progress');
  const started = reconcileFleet(spec, d.state, {}, 1).state;
  assert.equal(started.rollout?.phase, 'Paused', 'no host reports: the first wave has only lost hosts');
  const aborted = fleetAbort(started, 'aborted by a user');
  assert.ok(aborted.ok);
  assert.equal(aborted.state.rollout?.phase, 'RollingBack');
  assert.ok(
    Object.values(aborted.state.assignments).every(
      (a) => a.generation === aborted.state.generation && a.target.version === 'v1',
    ),
  );
  const noUndo = fleetUndo(spec, base, 0);
  assert.ok(!noUndo.ok && noUndo.code === 'nothing_to_undo');
});

test('blue-green across hosts: every preview first, one switch for all (promote or auto-promote), refused while a preview is not ready', () => {
  const hosts = ['a', 'b'];
  const bg = (autoPromote: boolean): FleetServiceSpec => ({
    name: 'web',
    hosts,
    hostsAtOnce: '100%',
    onHostLost: 'pause',
    strategy: { type: 'blueGreen', autoPromote, autoPromoteAfterMs: 1000 },
  });
  const reportsWith = (fleet: FleetServiceState, ready: string[]): Record<string, HostReport> => {
    const out: Record<string, HostReport> = {};
    for (const h of hosts) {
      out[h] = hostReport(h, {
        generation: fleet.assignments[h]?.generation ?? 0,
        stable: v('v1'),
        target: v('v2'),
        phase: 'Progressing',
        outcome: 'progressing',
        ready: 1,
        total: 2,
        routesVersion: 1,
        previewReady: ready.includes(h),
      });
    }
    return out;
  };
  for (const auto of [false, true]) {
    const spec = bg(auto);
    const base = reconcileFleet(spec, initialFleetState('web', v('v1')), {}, 0).state;
    const d = fleetDeploy(spec, base, v('v2'), 0);
    assert.ok(d.ok);
    let fleet = reconcileFleet(spec, d.state, reportsWith(d.state, []), 1).state;
    assert.deepEqual(fleet.rollout?.wave, hosts, 'one wave: every host starts its preview');
    assert.ok(
      hosts.every((h) => fleet.assignments[h].target.version === 'v2' && !fleet.assignments[h].promote),
    );
    fleet = reconcileFleet(spec, fleet, reportsWith(fleet, ['a']), 2).state;
    assert.equal(fleet.rollout?.message, 'previews: waiting for b');
    const early = fleetPromote(spec, fleet, reportsWith(fleet, ['a']), false);
    assert.ok(!early.ok && early.code === 'not_ready' && /not ready on b/.test(early.message));
    fleet = reconcileFleet(spec, fleet, reportsWith(fleet, hosts), 10).state;
    if (!auto) {
      assert.equal(fleet.rollout?.message, 'every preview ready: waiting for promote');
      fleet = reconcileFleet(spec, fleet, reportsWith(fleet, hosts), 5000).state;
      assert.equal(fleet.rollout?.promoted, undefined, 'no switch without promote');
      const p = fleetPromote(spec, fleet, reportsWith(fleet, hosts), false);
      assert.ok(p.ok);
      fleet = reconcileFleet(spec, p.state, reportsWith(p.state, hosts), 5001).state;
    } else {
      fleet = reconcileFleet(spec, fleet, reportsWith(fleet, hosts), 500).state;
      assert.equal(fleet.rollout?.promoted, undefined, 'auto-promote waits autoPromoteAfter');
      fleet = reconcileFleet(spec, fleet, reportsWith(fleet, hosts), 1010).state;
    }
    assert.equal(fleet.rollout?.promoted, 'switch');
    assert.ok(
      hosts.every((h) => fleet.assignments[h].promote === 'switch'),
      JSON.stringify(fleet.assignments),
    );
  }
});
