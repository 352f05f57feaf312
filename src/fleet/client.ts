/**
 * What any host's API does with the fleet: submit a command for the leader and wait for its
 * answer, mark a host drained, and read the fleet's view (leader, hosts, service states).
 */
import { randomUUID } from 'node:crypto';
import type { FleetServiceState, HostReport } from '../core/fleet/model.ts';
import type { EtcdClient } from '../store/etcd/client.ts';
import type { FleetCommand, FleetCommandAnswer } from './command.ts';
import type { FleetKeys } from './keys.ts';
import type { FleetView, StoredFleetEvent } from './view.ts';

/** How long a command waits for the leader's answer. */
const ANSWER_TIMEOUT_MS = 15_000;

export class FleetClient {
  private readonly client: EtcdClient;
  private readonly keys: FleetKeys;

  constructor(client: EtcdClient, keys: FleetKeys) {
    this.client = client;
    this.keys = keys;
  }

  /** Submits a command; resolves with the leader's answer (or rejects after a timeout with the command withdrawn). */
  async submit(cmd: Omit<FleetCommand, 'id' | 'at'>): Promise<FleetCommandAnswer> {
    const full: FleetCommand = { ...cmd, id: randomUUID(), at: Date.now() };
    const resultKey = this.keys.result(full.id);
    const start = await this.client.put(this.keys.command(full.id), JSON.stringify(full));
    return new Promise<FleetCommandAnswer>((resolve, reject) => {
      let done = false;
      const finish = (answer: FleetCommandAnswer | Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        watch.close();
        this.client.delete(resultKey).catch(() => {});
        if (answer instanceof Error) reject(answer);
        else resolve(answer);
      };
      const watch = this.client.watch(resultKey, start, (events) => {
        const put = events.find((e) => e.type === 'put');
        if (put) finish(JSON.parse(put.kv.value) as FleetCommandAnswer);
      });
      const timer = setTimeout(() => {
        // Withdrawn only if no leader took it meanwhile (then its answer is what counts).
        this.client
          .txn({
            compare: [{ key: this.keys.command(full.id), target: 'version', op: '>', value: 0 }],
            success: [{ delete: { key: this.keys.command(full.id) } }],
          })
          .then((t) =>
            finish(
              t.succeeded
                ? new Error(
                    `no fleet leader answered within ${ANSWER_TIMEOUT_MS} ms; the command was withdrawn`,
                  )
                : new Error('the leader took the command but its answer was lost; check status'),
            ),
          )
          .catch((err: Error) => finish(err));
      }, ANSWER_TIMEOUT_MS);
    });
  }

  async setDrained(host: string, drained: boolean, actor: string): Promise<void> {
    if (drained) await this.client.put(this.keys.drain(host), JSON.stringify({ by: actor, at: Date.now() }));
    else await this.client.delete(this.keys.drain(host));
  }

  /** Forgets a host that left for good (its heartbeat must be gone): `hosts: all` no longer counts it. */
  async removeHost(host: string): Promise<boolean> {
    const t = await this.client.txn({
      compare: [{ key: this.keys.host(host), target: 'version', op: '=', value: 0 }],
      success: [{ delete: { key: this.keys.member(host) } }, { delete: { key: this.keys.drain(host) } }],
    });
    return t.succeeded;
  }

  async view(): Promise<FleetView> {
    const [leader, hosts, members, services, drains] = await Promise.all([
      this.client.get(this.keys.leader),
      this.client.range(this.keys.hosts),
      this.client.range(this.keys.members),
      this.client.range(this.keys.services),
      this.client.range(this.keys.drains),
    ]);
    const reports = new Map<string, HostReport>();
    for (const kv of hosts.kvs) {
      const r = JSON.parse(kv.value) as HostReport;
      reports.set(r.host, r);
    }
    const drained = new Set(drains.kvs.map((kv) => kv.key.slice(this.keys.drains.length)));
    const names = new Set([
      ...members.kvs.map((kv) => kv.key.slice(this.keys.members.length)),
      ...reports.keys(),
    ]);
    return {
      leader: leader?.value ?? null,
      hosts: [...names].sort().map((name) => ({
        name,
        live: reports.has(name),
        drained: drained.has(name),
        report: reports.get(name),
      })),
      services: services.kvs.map((kv) => JSON.parse(kv.value) as FleetServiceState),
    };
  }

  async events(limit = 100): Promise<StoredFleetEvent[]> {
    const r = await this.client.range(this.keys.events);
    return r.kvs.slice(-limit).map((kv) => JSON.parse(kv.value) as StoredFleetEvent);
  }
}
