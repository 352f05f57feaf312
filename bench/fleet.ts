/**
 * `npm run bench:fleet`: the fleet's control plane on one machine: a 3-member etcd cluster and
 * three hosts, each a real `cutover up` (gateway, instances, agent, controller candidate).
 *
 *   node bench/fleet.ts [--changes 100] [--takeovers 3] [--hosts 3]
 *
 * (1) Acknowledgement: time from the leader's etcd write of a host's new assignment to that host's
 *     report acknowledging it (its controller acted, its gateway applied the routes), over
 *     `--changes` fleet rollouts of the revision the fleet already runs (no instance changes, so
 *     what is measured is etcd, the watches and the agents; a wave of one host per step). Also the
 *     whole rollout from command to Succeeded.
 * (2) Leader takeover after kill -9 of the leading controller (lease TTL 2 s): kill -> new leader key.
 * (3) etcd writes per rollout step: revisions consumed by a real v1 -> v2 rollout over the hosts,
 *     one host per wave, divided by the waves.
 * Peers: APISIX states "milliseconds" for route propagation and has no acknowledgement; Kamal has no
 * coordination between hosts at all. Prints a table, then `JSON:` and the document, and writes
 * bench/results/fleet-latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { FleetServiceState, HostReport } from '../src/core/fleet/model.ts';
import { signalProcess } from '../src/runtime/process-group.ts';
import { EtcdClient } from '../src/store/etcd/client.ts';
import { Fleet } from '../test/helpers/fleet.ts';
import { fmtMs, table } from './lib/format.ts';
import { REPO_ROOT } from './lib/targets.ts';

const PREFIX = '/cutover/';

function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      changes: { type: 'string', default: '100' },
      takeovers: { type: 'string', default: '3' },
      hosts: { type: 'string', default: '3' },
    },
  });
  const changes = Number(values.changes);
  const takeovers = Number(values.takeovers);
  const fleet = new Fleet({ hosts: Number(values.hosts), replicas: 1 });
  const stop = async () => {
    await fleet.destroy();
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    process.stderr.write('starting etcd and the hosts...\n');
    await fleet.startHosts();
    const etcd = new EtcdClient({ endpoints: fleet.etcd.endpoints });
    const assignedAt = new Map<string, number>();
    const ackedAt = new Map<string, number>();
    let lastState: FleetServiceState | undefined;
    let leaderPutAt = 0;
    let leaderName = '';
    const start = await etcd.range(PREFIX);
    const watch = etcd.watch(PREFIX, start.revision, (events) => {
      const now = performance.now();
      for (const e of events) {
        if (e.type !== 'put') continue;
        if (e.kv.key === `${PREFIX}services/web`) {
          const s = JSON.parse(e.kv.value) as FleetServiceState;
          lastState = s;
          for (const [host, a] of Object.entries(s.assignments)) {
            const k = `${host}@${a.generation}`;
            if (!assignedAt.has(k)) assignedAt.set(k, now);
          }
        } else if (e.kv.key.startsWith(`${PREFIX}hosts/`)) {
          const r = JSON.parse(e.kv.value) as HostReport;
          const w = r.services.web;
          const k = `${r.host}@${w?.generation}`;
          if (w?.outcome === 'succeeded' && !ackedAt.has(k)) ackedAt.set(k, now);
        } else if (e.kv.key === `${PREFIX}leader`) {
          leaderPutAt = now;
          leaderName = e.kv.value;
        }
      }
    });
    const via = fleet.hosts[0];
    const waitDone = async (generation: number): Promise<FleetServiceState> => {
      for (;;) {
        const s = lastState;
        if (s && !s.rollout && s.lastRollout && s.lastRollout.generation >= generation) return s;
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const deploy = async (version: string): Promise<number> => {
      const r = await via.api<{ generation: number }>('POST', '/v1/services/web/deploy', { version });
      if (r.status !== 202) throw new Error(`deploy: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.generation;
    };

    // (3) a real rollout first: etcd revisions per wave.
    process.stderr.write('a v1 -> v2 rollout for the writes per step...\n');
    const rev0 = (await etcd.range(`${PREFIX}leader`)).revision;
    const g2 = await deploy('v2');
    const s2 = await waitDone(g2);
    const rev1 = (await etcd.range(`${PREFIX}leader`)).revision;
    const waves = s2.lastRollout ? Math.ceil(s2.lastRollout.hosts.length / s2.lastRollout.waveSize) : 1;
    const writesPerStep = (rev1 - rev0) / waves;

    // (1) acknowledgements.
    process.stderr.write(`${changes} fleet changes for the acknowledgement latency...\n`);
    const ack: number[] = [];
    const whole: number[] = [];
    for (let i = 0; i < changes; i++) {
      const t0 = performance.now();
      const g = await deploy('v2');
      await waitDone(g);
      whole.push(performance.now() - t0);
      for (const h of fleet.hosts) {
        const k = `${h.name}@${g}`;
        const a = assignedAt.get(k);
        const b = ackedAt.get(k);
        if (a !== undefined && b !== undefined) ack.push(b - a);
      }
    }

    // (2) leader takeovers.
    process.stderr.write(`${takeovers} leader takeovers...\n`);
    const takeoverMs: number[] = [];
    for (let i = 0; i < takeovers; i++) {
      const v = await fleet.view(fleet.hosts.find((h) => h.name !== leaderName) ?? via);
      const leader = fleet.leaderHost(v);
      const before = leaderPutAt;
      const t0 = performance.now();
      signalProcess(leader.upPid()!, 'SIGKILL');
      await leader.upExit;
      while (leaderPutAt === before || leaderName === leader.name) await new Promise((r) => setTimeout(r, 5));
      takeoverMs.push(leaderPutAt - t0);
      await leader.startAgain();
      await fleet.waitFor(
        async () => (await fleet.view()).hosts.every((h) => h.live),
        'every host live again',
      );
    }
    watch.close();
    await etcd.close();

    const doc = {
      hosts: fleet.hosts.length,
      leaseTtlSeconds: 2,
      acknowledgementMs: {
        samples: ack.length,
        p50: percentile(ack, 50),
        p99: percentile(ack, 99),
        max: percentile(ack, 100),
      },
      rolloutOfUnchangedRevisionMs: {
        samples: whole.length,
        p50: percentile(whole, 50),
        p99: percentile(whole, 99),
      },
      leaderTakeoverMs: { samples: takeoverMs.length, values: takeoverMs.map((x) => Math.round(x)) },
      etcdWritesPerStep: Math.round(writesPerStep * 10) / 10,
      peers: {
        apisix: 'route propagation stated as "milliseconds"; no acknowledgement from the gateways',
        kamal: 'no coordination between hosts (each host deployed over SSH in turn)',
      },
    };
    const rows = [
      ['measure', 'p50', 'p99', 'note'],
      [
        'assignment -> host acknowledged (ms)',
        fmtMs(doc.acknowledgementMs.p50),
        fmtMs(doc.acknowledgementMs.p99),
        `${ack.length} samples; APISIX: "milliseconds", unacknowledged`,
      ],
      [
        'command -> fleet Succeeded, 3 waves (ms)',
        fmtMs(doc.rolloutOfUnchangedRevisionMs.p50),
        fmtMs(doc.rolloutOfUnchangedRevisionMs.p99),
        'no instance changes; Kamal: no coordination',
      ],
      [
        'leader takeover after kill -9 (ms)',
        fmtMs(percentile(takeoverMs, 50)),
        fmtMs(percentile(takeoverMs, 99)),
        `lease TTL 2 s; ${takeoverMs.map((x) => Math.round(x)).join(', ')}`,
      ],
      [
        'etcd writes per rollout step',
        String(doc.etcdWritesPerStep),
        '-',
        'revisions of a v1 -> v2 rollout / waves (reports included)',
      ],
    ];
    process.stdout.write(`${table(rows)}\n\nJSON:\n${JSON.stringify(doc, null, 2)}\n`);
    const dir = path.join(REPO_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'fleet-latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    await stop();
  }
}

await main();
