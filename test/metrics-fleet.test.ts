/** The fleet's `/metrics` families: exact samples for a fleet view, and `promtool check metrics` clean. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetFamilies } from '../src/metrics/fleet.ts';
import { writeExposition } from '../src/metrics/text.ts';
import { fleet, host, rollout, service, serviceReport } from './helpers/fleet-views.ts';
import { promtoolCheckMetrics } from './helpers/prometheus.ts';

test('fleet metrics: leader, live/lost and drained hosts, lagging hosts, generation and rollout phase; promtool clean', async () => {
  const view = fleet(
    [
      host('web-1', { web: serviceReport('v2', 3) }),
      host('web-2', { web: serviceReport('v1', 2) }, { drained: true }),
      host('web-3', {}, { live: false }),
    ],
    [
      service('web', 'v2', 3, ['web-1', 'web-2', 'web-3'], {
        rollout: rollout('v1', 'v2', { wave: ['web-2'] }),
      }),
    ],
  );
  const text = writeExposition(fleetFamilies(view));
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.ok(lines.length > 0);
  assert.deepEqual(lines, [
    'cutover_fleet_etcd_up 1',
    'cutover_fleet_leader{host="web-1"} 1',
    'cutover_fleet_leader{host="web-2"} 0',
    'cutover_fleet_leader{host="web-3"} 0',
    'cutover_fleet_host_up{host="web-1"} 1',
    'cutover_fleet_host_up{host="web-2"} 1',
    'cutover_fleet_host_up{host="web-3"} 0',
    'cutover_fleet_host_drained{host="web-1"} 0',
    'cutover_fleet_host_drained{host="web-2"} 1',
    'cutover_fleet_host_drained{host="web-3"} 0',
    'cutover_fleet_host_lagging{host="web-1",service="web"} 0',
    'cutover_fleet_host_lagging{host="web-2",service="web"} 1',
    'cutover_fleet_host_lagging{host="web-3",service="web"} 0',
    'cutover_fleet_generation{service="web"} 3',
    'cutover_fleet_rollout{service="web",phase="Progressing"} 1',
  ]);
  const check = await promtoolCheckMetrics(text);
  assert.equal(check.code, 0, check.output);
  assert.deepEqual(
    writeExposition(fleetFamilies(null))
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#')),
    ['cutover_fleet_etcd_up 0'],
  );
});
