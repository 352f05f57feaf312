import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig } from '../config/diff.ts';
import { parseConfig } from '../config/load.ts';
import type { CutoverConfig } from '../config/types.ts';
import { planApply } from './apply.ts';
import type { ServiceState } from './model.ts';
import { deploy, initialServiceState } from './service.ts';

function config(services: string, listen = '127.0.0.1:8080'): CutoverConfig {
  const parsed = parseConfig(`gateway:\n  listen: ${listen}\nservices:\n${services}`, { baseDir: '/srv' });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  return parsed.config;
}

const service = (name: string, version = 'v1', prefix = '/', replicas = 2) =>
  `  ${name}:\n    version: ${version}\n    replicas: ${replicas}\n    route: { pathPrefix: ${prefix} }\n    run: { command: "./server" }\n`;

function statesOf(cfg: CutoverConfig): Map<string, ServiceState> {
  return new Map(
    Object.values(cfg.services).map((svc) => [
      svc.name,
      initialServiceState(svc.name, svc.version, svc.run, 0),
    ]),
  );
}

test('apply plan by kind of change (table)', () => {
  const base = config(service('web'));
  const rows: Array<{
    name: string;
    next: CutoverConfig;
    dryRun?: boolean;
    applied: boolean;
    states: string[];
    removed: string[];
    events: string[];
  }> = [
    { name: 'no change', next: base, applied: false, states: [], removed: [], events: [] },
    {
      name: 'live change only (replicas)',
      next: config(service('web', 'v1', '/', 3)),
      applied: true,
      states: [],
      removed: [],
      events: ['web ConfigApplied'],
    },
    {
      name: 'new version: a new revision rolled out',
      next: config(service('web', 'v2')),
      applied: true,
      states: ['web r2'],
      removed: [],
      events: ['web RolloutStarted 2', 'web ConfigApplied'],
    },
    {
      name: 'dry run: reported, nothing applied',
      next: config(service('web', 'v2')),
      dryRun: true,
      applied: false,
      states: [],
      removed: [],
      events: [],
    },
    {
      name: 'service added',
      next: config(service('web') + service('api', 'v1', '/api')),
      applied: true,
      states: ['api r1'],
      removed: [],
      events: ['api RolloutStarted 1', 'api ConfigApplied'],
    },
    {
      name: 'service removed',
      next: config(service('api', 'v1', '/api')),
      applied: true,
      states: ['api r1'],
      removed: ['web'],
      events: ['api RolloutStarted 1', 'api ConfigApplied'],
    },
  ];
  for (const row of rows) {
    const plan = planApply(
      base,
      row.next,
      diffConfig(base, row.next),
      statesOf(base),
      1_000,
      row.dryRun ?? false,
    );
    assert.ok(plan.result.ok, row.name);
    assert.equal(plan.result.applied, row.applied, row.name);
    assert.equal(plan.config !== undefined, row.applied, row.name);
    assert.deepEqual(
      plan.states.map((s) => `${s.name} r${s.rollout?.to ?? s.stable}`),
      row.states,
      row.name,
    );
    assert.deepEqual(
      plan.removed.map((svc) => svc.name),
      row.removed,
      row.name,
    );
    assert.deepEqual(
      plan.events.map((e) => [e.service, e.type, e.revision].filter((x) => x !== undefined).join(' ')),
      row.events,
      row.name,
    );
  }
});

test('a new revision for a service mid-rollout refuses the whole apply', () => {
  const base = config(service('web') + service('api', 'v1', '/api'));
  const states = statesOf(base);
  const web = base.services.web;
  const rolling = deploy(web, states.get('web') as ServiceState, 'v2', web.run, 10);
  assert.ok(rolling.ok);
  states.set('web', rolling.state);
  const next = config(service('web', 'v3') + service('api', 'v2', '/api'));
  const plan = planApply(base, next, diffConfig(base, next), states, 20, false);
  assert.equal(plan.result.ok, false);
  assert.equal(!plan.result.ok && plan.result.code, 'rollout_in_progress');
  assert.match(!plan.result.ok ? plan.result.message : '', /service "web" is rolling out/);
  assert.ok(plan.result.changes.length > 0, 'the changes are still reported');
  assert.equal(plan.config, undefined);
  assert.deepEqual(plan.states, []);
  assert.deepEqual(plan.events, []);
});

test('gateway and control settings are reported but keep their running values', () => {
  const base = config(service('web'));
  const next = config(service('web', 'v1', '/', 3), '127.0.0.1:9090');
  const plan = planApply(base, next, diffConfig(base, next), statesOf(base), 1, false);
  assert.ok(plan.result.ok && plan.result.applied);
  assert.ok(plan.result.changes.some((c) => c.effect === 'restart'));
  assert.equal(plan.config?.gateway, base.gateway);
  assert.equal(plan.config?.control, base.control);
  assert.equal(plan.config?.services.web.replicas, 3);
});

test('cluster settings are reported but keep their running values; service hosts apply', () => {
  const fleet = (cluster: string, hosts: string) =>
    parseConfig(
      `cluster:\n  etcd: { endpoints: [http://127.0.0.1:2379] }\n  ${cluster}\nservices:\n${service('web')}    hosts: ${hosts}\n`,
      { baseDir: '/srv', env: {}, hostname: 'web-1' },
    );
  const [a, b] = [fleet('leaseTtl: 5s', 'all'), fleet('leaseTtl: 9s', '[web-2]')];
  assert.ok(a.ok && b.ok);
  const plan = planApply(a.config, b.config, diffConfig(a.config, b.config), statesOf(a.config), 1, false);
  assert.ok(plan.result.ok && plan.result.applied);
  assert.deepEqual(
    plan.result.changes.map((c) => `${c.path} ${c.effect}`),
    ['cluster.leaseTtlMs restart', 'services.web.hosts live'],
  );
  assert.equal(plan.config?.cluster, a.config.cluster);
  assert.deepEqual(plan.config?.services.web.hosts, ['web-2']);
  const single = config(service('web'));
  const off = planApply(a.config, single, diffConfig(a.config, single), statesOf(a.config), 1, false);
  assert.equal(off.config?.cluster, a.config.cluster, 'removing cluster: needs a restart too');
  const on = planApply(single, a.config, diffConfig(single, a.config), statesOf(single), 1, false);
  assert.ok(on.config !== undefined && !('cluster' in on.config), 'adding cluster: needs a restart too');
});

test('a changed strategy type takes over the running rollout once, at apply', () => {
  const base = config(service('web'));
  const states = statesOf(base);
  const web = base.services.web;
  const rolling = deploy(web, states.get('web') as ServiceState, 'v2', web.run, 10);
  assert.ok(rolling.ok);
  assert.equal(rolling.state.rollout?.strategy, 'rolling');
  states.set('web', rolling.state);
  const next = config(`${service('web')}    strategy: { type: canary, steps: [ { pause: {} } ] }\n`);
  const plan = planApply(base, next, diffConfig(base, next), states, 20, false);
  assert.ok(plan.result.ok && plan.result.applied);
  const converted = plan.states.find((s) => s.name === 'web')?.rollout;
  assert.equal(converted?.strategy, 'canary');
  assert.equal(converted?.to, 2, 'the same rollout goes on');
  assert.equal(converted?.startedAt, 10);
});

test('a runtime policy override outlives an apply that changes the config policy, and a new revision', () => {
  const base = config(service('web'));
  const limited = `${service('web', 'v2')}    limits: { maxInFlightPerInstance: 4 }\n`;
  const next = config(limited);
  const override = {
    loadBalancer: 'roundRobin' as const,
    policy: { rate: { requests: 5, perMs: 1000, burst: 5, key: { source: 'ip' as const } } },
  };
  const states = new Map(
    [...statesOf(base)].map(([n, s]) => [n, { ...s, phase: 'Healthy' as const, policy: override }]),
  );
  const plan = planApply(base, next, diffConfig(base, next), states, 1, false);
  assert.ok(plan.result.ok && plan.result.applied);
  assert.deepEqual(plan.config?.services.web.policy, { maxInFlightPerInstance: 4 });
  const web = plan.states.find((s) => s.name === 'web');
  assert.equal(web?.rollout?.to, 2, 'the new version rolls out');
  assert.deepEqual(web?.policy, override, 'the override stays until `cutover limits --reset`');
});
