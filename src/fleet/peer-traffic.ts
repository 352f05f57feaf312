/**
 * Analysis across hosts: while a service's rollout is judged, every host publishes its gateway's
 * cumulative counts of the rollout's new and stable revision under a leased key, and adds the
 * other hosts' counts of the same fleet generation to its own before judging. So each host judges
 * the whole fleet's traffic and the hosts reach the same verdict on the same numbers; counts of a
 * host whose lease lapsed drop out (the analysis treats the drop as one tick of unknown increments).
 */
import type { PeerRevisionStats } from '../analysis/gateway.ts';
import type { Controller } from '../controller/controller.ts';
import type { Logger } from '../log/logger.ts';
import type { EtcdClient, WatchHandle } from '../store/etcd/client.ts';
import type { FleetKeys } from './keys.ts';

/** How often a host publishes its counts: the analysis interval's floor is 1 s. */
export const TRAFFIC_PUBLISH_INTERVAL_MS = 500;

/** What one host publishes for one service. */
interface Published extends PeerRevisionStats {
  host: string;
  generation: number;
}

export class PeerTraffic {
  private readonly client: EtcdClient;
  private readonly keys: FleetKeys;
  private readonly host: string;
  private readonly controller: Controller;
  private readonly log: Logger;
  /** The lease of this host's heartbeat (null while it has none). */
  private readonly lease: () => string | null;
  /** The fleet generation this host follows for a service (its assignment), if any. */
  private readonly generationOf: (service: string) => number | undefined;
  /** Every host's published counts, by etcd key. */
  private readonly seen = new Map<string, Published>();
  /** What this host last wrote per service. */
  private readonly written = new Map<string, string>();
  private watch?: WatchHandle;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(opts: {
    client: EtcdClient;
    keys: FleetKeys;
    host: string;
    controller: Controller;
    log: Logger;
    lease: () => string | null;
    generationOf: (service: string) => number | undefined;
  }) {
    this.client = opts.client;
    this.keys = opts.keys;
    this.host = opts.host;
    this.controller = opts.controller;
    this.log = opts.log;
    this.lease = opts.lease;
    this.generationOf = opts.generationOf;
  }

  async start(): Promise<void> {
    const now = await this.client.range(this.keys.traffic);
    for (const kv of now.kvs) this.take(kv.key, kv.value);
    this.watch = this.client.watch(this.keys.traffic, now.revision, (events) => {
      for (const e of events) {
        if (e.type === 'put') this.take(e.kv.key, e.kv.value);
        else this.seen.delete(e.kv.key);
      }
    });
    this.timer = setInterval(() => this.tick(), TRAFFIC_PUBLISH_INTERVAL_MS);
    this.controller.peerTraffic = (service) => this.peers(service);
  }

  stop(): void {
    clearInterval(this.timer);
    this.watch?.close();
    this.controller.peerTraffic = undefined;
  }

  /** The other hosts' counts of `service`'s current rollout (the generation this host follows). */
  peers(service: string): PeerRevisionStats[] {
    const generation = this.generationOf(service);
    if (generation === undefined) return [];
    const prefix = `${this.keys.traffic}${service}/`;
    const out: PeerRevisionStats[] = [];
    for (const [key, p] of this.seen) {
      if (key.startsWith(prefix) && p.host !== this.host && p.generation === generation) out.push(p);
    }
    return out;
  }

  private take(key: string, value: string): void {
    try {
      this.seen.set(key, JSON.parse(value) as Published);
    } catch {
      this.seen.delete(key);
    }
  }

  private tick(): void {
    if (this.busy) return;
    this.busy = true;
    this.publish()
      .catch((err: unknown) =>
        this.log.warn('fleet traffic not published', { host: this.host, error: (err as Error).message }),
      )
      .finally(() => {
        this.busy = false;
      });
  }

  private async publish(): Promise<void> {
    const lease = this.lease();
    if (!lease) return;
    let stats: Awaited<ReturnType<Controller['trafficStats']>> | undefined;
    for (const svc of this.controller.services()) {
      const key = this.keys.trafficOf(svc.name, this.host);
      const state = this.controller.state(svc.name);
      const generation = this.generationOf(svc.name);
      if (!svc.analysis || !state?.rollout || generation === undefined) {
        if (this.written.has(svc.name)) {
          await this.client.delete(key);
          this.written.delete(svc.name);
        }
        continue;
      }
      stats ??= await this.controller.trafficStats();
      const revs = stats.services[svc.name]?.revisions ?? {};
      const value: Published = {
        host: this.host,
        generation,
        to: revs[String(state.rollout.to)],
        stable: revs[String(state.stable)],
      };
      // With the lease: a new lease (the old one expired with its keys) writes again.
      const raw = JSON.stringify(value);
      if (this.written.get(svc.name) === `${lease}:${raw}`) continue;
      await this.client.put(key, raw, { lease });
      this.written.set(svc.name, `${lease}:${raw}`);
    }
  }
}
