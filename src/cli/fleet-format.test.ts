import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleet, host, rollout, service, serviceReport, target } from '../../test/helpers/fleet-views.ts';
import { lagOf } from '../fleet/lag.ts';
import type { FleetView } from '../fleet/view.ts';
import { formatFleet } from './fleet-format.ts';

const CASES: Array<{ name: string; view: FleetView; only?: string; want: string[] }> = [
  {
    name: 'converged fleet: leader, one row per host and service, desired version with the last rollout',
    view: fleet(
      [
        host('web-1', { web: serviceReport('v2', 3) }),
        host('web-2', { web: serviceReport('v2', 3) }, { drained: true }),
      ],
      [
        service('web', 'v2', 3, ['web-1', 'web-2'], {
          lastRollout: rollout('v1', 'v2', { phase: 'Succeeded', finishedAt: 5 }),
        }),
      ],
    ),
    want: [
      'fleet  leader web-1',
      '  HOST   STATE  DRAINED  SERVICE  STABLE  OUTCOME    READY  GEN  NOTE',
      '  web-1  live   -        web      v2      succeeded  2/2    3',
      '  web-2  live   drained  web      v2      succeeded  2/2    3',
      '  web: desired v2 on every host (generation 3; last rollout v1 -> v2 Succeeded)',
    ],
  },
  {
    name: 'rollout in progress: lagging hosts marked, a lost host has no report, rollout line with wave and done',
    view: fleet(
      [
        host('web-1', { web: serviceReport('v2', 3) }),
        host('web-2', { web: serviceReport('v1', 2, { outcome: 'progressing', ready: 1, total: 2 }) }),
        host('web-3', {}, { live: false }),
      ],
      [
        service('web', 'v2', 3, ['web-1', 'web-2'], {
          assignments: {
            'web-1': { target: target('v2'), generation: 3 },
            'web-2': { target: target('v2'), generation: 3 },
            'web-3': { target: target('v1'), generation: 2 },
          },
          rollout: rollout('v1', 'v2', {
            done: ['web-1'],
            wave: ['web-2'],
            message: 'wave web-2: waiting for web-2',
          }),
        }),
      ],
      null,
    ),
    want: [
      'fleet  leader none (no controller elected)',
      '  HOST   STATE  DRAINED  SERVICE  STABLE  OUTCOME      READY  GEN  NOTE',
      '  web-1  live   -        web      v2      succeeded    2/2    3',
      '  web-2  live   -        web      v1      progressing  1/2    2    lagging: acted on generation 2 of 3',
      '  web-3  LOST   -        web      -       -            -      -',
      '  web: deploy v1 -> v2 Progressing (generation 3): 1/3 done (web-1), wave web-2; wave web-2: waiting for web-2',
    ],
  },
  {
    name: 'one service asked for: other services and hosts without it left out; paused by a user',
    view: fleet(
      [
        host('web-1', { web: serviceReport('v1', 3), api: serviceReport('a1', 1) }),
        host('api-1', { api: serviceReport('a1', 1) }),
      ],
      [
        service('web', 'v1', 3, ['web-1'], {
          rollout: rollout('v1', 'v2', { phase: 'Paused', pausedByUser: true, message: 'paused by a user' }),
        }),
        service('api', 'a1', 1, ['web-1', 'api-1']),
      ],
    ),
    only: 'web',
    want: [
      'fleet  leader web-1',
      '  HOST   STATE  DRAINED  SERVICE  STABLE  OUTCOME    READY  GEN  NOTE',
      '  web-1  live   -        web      v1      succeeded  2/2    3',
      '  web: deploy v1 -> v2 Paused by a user (generation 3): 0/3 done; paused by a user',
    ],
  },
  {
    name: 'rolled back last time: the reason shows; a host with no service gets a bare row',
    view: fleet(
      [host('web-1', { web: serviceReport('v1', 4) }), host('spare', {})],
      [
        service('web', 'v1', 4, ['web-1'], {
          lastRollout: rollout('v1', 'v2', { phase: 'RolledBack', reason: 'web-1: readiness failed' }),
        }),
      ],
    ),
    want: [
      'fleet  leader web-1',
      '  HOST   STATE  DRAINED  SERVICE  STABLE  OUTCOME    READY  GEN  NOTE',
      '  web-1  live   -        web      v1      succeeded  2/2    4',
      '  spare  live   -        -        -       -          -      -',
      '  web: desired v1 on every host (generation 4; last rollout v1 -> v2 RolledBack: web-1: readiness failed)',
    ],
  },
  {
    name: 'a service the fleet does not run, asked for: said so',
    view: fleet([host('web-1', {})], []),
    only: 'web',
    want: ['fleet  leader web-1', '  no hosts', '  web: not run by the fleet'],
  },
];

for (const c of CASES) {
  test(`formatFleet: ${c.name}`, () => {
    assert.ok(c.want.length > 0);
    assert.deepEqual(formatFleet(c.view, c.only).split('\n'), c.want);
  });
}

const LAG: Array<{ name: string; report?: ReturnType<typeof serviceReport>; live?: boolean; want?: string }> =
  [
    { name: 'caught up', report: serviceReport('v2', 3), want: undefined },
    { name: 'behind the generation', report: serviceReport('v2', 2), want: 'acted on generation 2 of 3' },
    {
      name: 'serving another version than assigned',
      report: serviceReport('v1', 3),
      want: 'serves v1, assigned v2',
    },
    { name: 'no report of the service', report: undefined, want: 'no report of generation 3' },
    { name: 'lost (nothing to judge)', report: serviceReport('v1', 1), live: false, want: undefined },
  ];

for (const c of LAG) {
  test(`lagOf: ${c.name}`, () => {
    const h = host('web-1', c.report ? { web: c.report } : {}, { live: c.live });
    assert.equal(lagOf(h, service('web', 'v2', 3, ['web-1'])), c.want);
  });
}
