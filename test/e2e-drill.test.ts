/**
 * `cutover drill` end to end, under load: a canary of the stable revision with an injected fault is
 * taken back by analysis; the figures are reported, stable keeps serving and never changes, and no
 * request fails beyond the injected faults.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DrillReport } from '../src/api/drill-routes.ts';
import type { AuditEntry } from '../src/audit/log.ts';
import type { Revision } from '../src/core/model.ts';
import { useCluster } from './helpers/cluster.ts';

const ANALYSIS = `    analysis:
      interval: 1s
      minRequests: 50
      metrics:
        - { name: errors, errorRate: { max: 0.01 } }
        - { name: p99, latency: { percentile: 99, max: 150ms } }
`;

describe('rollback drills end to end', { timeout: 240_000 }, () => {
  for (const fault of ['errors:5%', 'latency:300ms']) {
    test(`a drill with ${fault} is taken back by analysis; stable untouched; only injected faults failed`, async (t) => {
      // Given a rolling service with analysis on two instances under steady load
      const c = useCluster(t);
      await c.up({
        replicas: 2,
        strategy: '{ type: rolling, maxSurge: 1, maxUnavailable: 0, progressDeadline: 30s }',
        serviceYaml: ANALYSIS,
      });
      const load = c.startLoad({ concurrency: 8 });
      await load.more(10, 'load running before the drill');

      // When a drill runs
      const d = await c.cli(['drill', 'web', '--fault', fault, '--timeout', '60s', '--json'], 120_000);
      await load.more(10, 'load running after the drill');
      const report = await load.stop();

      // Then analysis took the drill canary back, and the report says how
      assert.equal(d.code, 0, `${d.stdout} ${d.stderr}`);
      const r = JSON.parse(d.stdout) as DrillReport;
      assert.equal(r.state, 'aborted');
      assert.equal(r.fault, fault);
      assert.equal(r.stable, 1);
      assert.equal(r.stableUnchanged, true);
      assert.ok(r.timeToAbortMs !== undefined && r.timeToAbortMs > 0);
      assert.ok(r.canary !== null && r.canary.requests > 0, JSON.stringify(r));
      assert.ok(r.stableWindow.requests > 0, 'stable kept serving while analysis watched');
      assert.equal(r.stableWindow.errors, 0);
      assert.equal(r.analysis?.verdict, 'Failed');
      // The gateway's final counts, once the load stopped (the report may precede the last faults).
      const final = (await c.api<DrillReport>('GET', '/v1/services/web/drill')).body;
      assert.ok(final.canary !== null);
      if (fault.startsWith('errors')) {
        assert.ok(final.canary.faulted.aborted > 0);
        // Every injected fault reached a client of the load, and nothing else failed.
        assert.equal(report.injected, final.canary.faulted.aborted);
      } else {
        assert.ok(final.canary.faulted.delayed > 0);
        // Every canary request is delayed; one held while the drill ended (its instance drained)
        // never reached it and is served by stable instead, so it counts on stable.
        assert.ok(final.canary.faulted.delayed >= final.canary.requests, JSON.stringify(final.canary));
        assert.equal(report.injected, 0);
      }
      assert.equal(report.failed, 0, report.failures.join(' | '));
      t.diagnostic(
        `${fault}: aborted after ${r.timeToAbortMs} ms; canary ${final.canary.requests} requests, ${final.canary.faulted.aborted} aborted, ${final.canary.faulted.delayed} delayed; load ${report.sent} sent, ${report.injected} injected, ${report.failed} failed`,
      );

      // And stable never changed: same revision, every instance of it, the drill's canary gone
      await c.waitFor(
        async () => (await c.status()).instances.every((i) => i.revision === 1),
        20_000,
        'drill canary drained',
      );
      const s = await c.status();
      assert.equal(s.stable.revision, 1);
      assert.equal(s.phase, 'Healthy');
      assert.equal(s.instances.length, 2);

      // And the drill is marked in history, events, audit and metrics
      const h = JSON.parse((await c.cli(['history', 'web', '--json'])).stdout) as {
        stable: number;
        revisions: Revision[];
      };
      assert.equal(h.stable, 1);
      const drillRev = h.revisions.find((x) => x.number === r.revision);
      assert.ok(drillRev?.drill, JSON.stringify(h.revisions));
      assert.equal(drillRev.outcome, 'aborted');
      assert.equal(drillRev.analysis?.verdict, 'Failed');
      const table = await c.cli(['history', 'web']);
      assert.match(table.stdout, /aborted \(drill\)/);
      const ev = JSON.parse((await c.cli(['events', 'web', '--json'])).stdout) as {
        events: Array<{ type: string; message: string }>;
      };
      const types = ev.events.map((e) => e.type);
      assert.ok(types.includes('DrillStarted') && types.includes('DrillFinished'), types.join(','));
      assert.match(ev.events.find((e) => e.type === 'DrillFinished')?.message ?? '', /drill passed/);
      assert.ok(!types.includes('RolloutSucceeded'), 'a drill never promotes');
      const audit = await c.api<{ entries: AuditEntry[] }>('GET', '/v1/audit?service=web');
      const entry = audit.body.entries.find((e) => e.action === 'drill');
      assert.ok(entry, JSON.stringify(audit.body.entries.map((e) => e.action)));
      assert.equal(entry.status, 202);
      const metrics = await c.metricsText();
      assert.match(metrics, /cutover_analysis_runs_total\{service="web",verdict="Failed",drill="true"\} 1/);
      assert.match(
        metrics,
        new RegExp(
          `cutover_gateway_faults_total\\{service="web",revision="${r.revision}",kind="${fault.startsWith('errors') ? 'abort' : 'delay'}"\\} [1-9]`,
        ),
      );
    });
  }

  test('a drill whose fault the analysis does not watch is not aborted in time: exit 1', async (t) => {
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      serviceYaml: `    analysis:\n      metrics:\n        - { name: errors, errorRate: { max: 0.02 } }\n`,
    });
    const load = c.startLoad({ concurrency: 4 });
    await load.more(10, 'load running before the drill');
    const d = await c.cli(['drill', 'web', '--fault', 'latency:50ms', '--timeout', '4s']);
    const report = await load.stop();
    assert.equal(d.code, 1, `${d.stdout} ${d.stderr}`);
    assert.match(d.stdout, /FAILED: analysis did not take the drill canary back within 4\.0s/);
    assert.match(d.stdout, /stable: revision 1 \(unchanged\)/);
    assert.equal(report.failed, 0, report.failures.join(' | '));
    const s = await c.status();
    assert.equal(s.stable.revision, 1);
  });
});
