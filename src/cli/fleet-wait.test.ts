import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleet, host, rollout, service } from '../../test/helpers/fleet-views.ts';
import type { FleetServiceState } from '../core/fleet/model.ts';
import { type FleetWaitOutcome, fleetWaitOutcome } from './fleet-wait.ts';

const HOSTS = ['web-1', 'web-2', 'web-3'];
const view = (...services: FleetServiceState[]) => fleet([host('web-1', {})], services);

const CASES: Array<{
  name: string;
  services: FleetServiceState[];
  generation: number;
  want: FleetWaitOutcome;
}> = [
  {
    name: 'a running rollout is not done; its progress names phase, wave, done hosts and message',
    services: [
      service('web', 'v1', 3, HOSTS, {
        rollout: rollout('v1', 'v2', {
          wave: ['web-2'],
          done: ['web-1'],
          message: 'wave web-2: rolling out',
        }),
      }),
    ],
    generation: 3,
    want: {
      done: false,
      progress:
        'Progressing v1 -> v2 (generation 3): wave web-2, 1/3 hosts done (web-1): wave web-2: rolling out',
    },
  },
  {
    name: 'the previous rollout finished but ours has not shown yet: not done',
    services: [
      service('web', 'v1', 2, HOSTS, {
        lastRollout: rollout('v0', 'v1', { generation: 2, phase: 'Succeeded', finishedAt: 5 }),
      }),
    ],
    generation: 3,
    want: { done: false, progress: 'waiting for generation 3 of web to start' },
  },
  {
    name: 'succeeded at our generation: done, exit 0',
    services: [
      service('web', 'v2', 3, HOSTS, {
        lastRollout: rollout('v1', 'v2', { phase: 'Succeeded', done: HOSTS, finishedAt: 5 }),
      }),
    ],
    generation: 3,
    want: { done: true, ok: true, message: 'v2 of web runs on every host' },
  },
  {
    name: 'succeeded with a lost host skipped: done, names the host',
    services: [
      service('web', 'v2', 3, HOSTS, {
        lastRollout: rollout('v1', 'v2', { phase: 'Succeeded', skipped: ['web-3'], finishedAt: 5 }),
      }),
    ],
    generation: 3,
    want: {
      done: true,
      ok: true,
      message: 'v2 of web runs on every host but web-3 (lost; converging when they return)',
    },
  },
  {
    name: 'rolled back (the service generation bumped past the rollout): done, exit 1 with the reason',
    services: [
      service('web', 'v1', 4, HOSTS, {
        lastRollout: rollout('v1', 'v2', {
          phase: 'RolledBack',
          reason: 'web-2: readiness failed',
          message: 'rolled back: web-2: readiness failed',
          finishedAt: 5,
        }),
      }),
    ],
    generation: 3,
    want: {
      done: true,
      ok: false,
      message: 'v2 of web was rolled back on every host to v1: web-2: readiness failed',
    },
  },
  {
    name: 'an abort answers the bumped generation; the rollout keeps its own: done once it rolled back',
    services: [
      service('web', 'v1', 4, HOSTS, {
        lastRollout: rollout('v1', 'v2', { phase: 'RolledBack', reason: 'aborted by a user', finishedAt: 5 }),
      }),
    ],
    generation: 4,
    want: {
      done: true,
      ok: false,
      message: 'v2 of web was rolled back on every host to v1: aborted by a user',
    },
  },
  {
    name: 'a rollback still running is not done',
    services: [
      service('web', 'v1', 4, HOSTS, {
        rollout: rollout('v1', 'v2', { phase: 'RollingBack', message: 'rolling back: waiting for web-1' }),
      }),
    ],
    generation: 3,
    want: {
      done: false,
      progress:
        'RollingBack v1 -> v2 (generation 3): no wave, 0/3 hosts done: rolling back: waiting for web-1',
    },
  },
  {
    name: 'a service the fleet does not know yet is not done',
    services: [service('api', 'v1', 1, HOSTS)],
    generation: 1,
    want: { done: false, progress: "web is not in the fleet's state yet" },
  },
];

for (const c of CASES) {
  test(`fleetWaitOutcome: ${c.name}`, () => {
    assert.deepEqual(fleetWaitOutcome(view(...c.services), 'web', c.generation), c.want);
  });
}
