/**
 * This host's part of the fleet: follows the assignments the leader writes for this host (through
 * the host's own controller, which runs the per-host strategy), and reports what the host runs
 * under a leased heartbeat key. Losing etcd changes nothing that runs: the gateway keeps its
 * routes and the instances keep running; the host acts again once it sees etcd.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Controller } from '../controller/controller.ts';
import { abort, promote, setPaused } from '../core/commands.ts';
import { setFleetStep } from '../core/fleet/canary.ts';
import { followAssignment, serviceReport } from '../core/fleet/follow.ts';
import type { FleetServiceState, HostReport } from '../core/fleet/model.ts';
import type { Logger } from '../log/logger.ts';
import type { EtcdClient } from '../store/etcd/client.ts';
import type { FleetKeys } from './keys.ts';

/** How often the host reconsiders its assignments and report even without a watch event. */
const FOLLOW_INTERVAL_MS = 250;

export interface HostIdentity {
  host: string;
  advertise: string;
  controlPort: number;
  gatewayPort: number;
  configHash: string;
}

export class HostAgentLoop {
  private readonly client: EtcdClient;
  private readonly keys: FleetKeys;
  private readonly id: HostIdentity;
  private readonly controller: Controller;
  private readonly log: Logger;
  private readonly ttlSeconds: number;
  private readonly actedFile: string;
  private readonly setServing: (serving: boolean, reason?: string) => Promise<void>;
  private readonly startedAt = Date.now();
  private acted: Record<string, number> = {};
  private states = new Map<string, FleetServiceState>();
  private lease: string | null = null;
  private lastReport = '';
  private drained = false;
  private timer?: NodeJS.Timeout;
  private keepAliveTimer?: NodeJS.Timeout;
  private watches: Array<{ close(): void }> = [];
  private busy = false;
  private stopped = false;
  /** Last successful exchange with etcd: a host out of touch longer than its lease is cut off. */
  private lastContact = Date.now();
  /** Local rollouts this host paused while cut off (resumed when etcd is back). */
  private pausedHere = new Set<string>();
  private failing = false;

  constructor(opts: {
    client: EtcdClient;
    keys: FleetKeys;
    identity: HostIdentity;
    controller: Controller;
    log: Logger;
    ttlSeconds: number;
    dataDir: string;
    setServing: (serving: boolean, reason?: string) => Promise<void>;
  }) {
    this.client = opts.client;
    this.keys = opts.keys;
    this.id = opts.identity;
    this.controller = opts.controller;
    this.log = opts.log;
    this.ttlSeconds = opts.ttlSeconds;
    this.setServing = opts.setServing;
    this.actedFile = path.join(opts.dataDir, 'fleet-host.json');
    if (existsSync(this.actedFile)) {
      try {
        this.acted = JSON.parse(readFileSync(this.actedFile, 'utf8')) as Record<string, number>;
      } catch {
        this.acted = {};
      }
    }
  }

  /** Joins the fleet: member key, first report, watches. Throws when etcd cannot be reached. */
  async start(): Promise<void> {
    await this.client.put(
      this.keys.member(this.id.host),
      JSON.stringify({ advertise: this.id.advertise, joinedAt: this.startedAt }),
    );
    const services = await this.client.range(this.keys.services);
    for (const kv of services.kvs) this.take(kv.value);
    const drain = await this.client.get(this.keys.drain(this.id.host));
    await this.applyDrain(drain?.value);
    await this.ensureLease();
    this.watches.push(
      this.client.watch(this.keys.services, services.revision, (events) => {
        for (const e of events) if (e.type === 'put') this.take(e.kv.value);
        this.kick();
      }),
      this.client.watch(this.keys.drain(this.id.host), drain?.modRevision ?? services.revision, (events) => {
        const last = events[events.length - 1];
        this.applyDrain(last?.type === 'put' ? last.kv.value : undefined).catch(() => {});
      }),
    );
    this.controller.onChange(() => this.kick());
    this.timer = setInterval(() => this.kick(), FOLLOW_INTERVAL_MS);
    this.keepAliveTimer = setInterval(() => this.keepAlive(), Math.max(500, (this.ttlSeconds * 1000) / 3));
    this.kick();
  }

  /** The lease of this host's heartbeat, null while it has none. */
  currentLease(): string | null {
    return this.lease;
  }

  /** The fleet generation whose rollout this host runs for `service`: its assignment's, once acted on. */
  followedGeneration(service: string): number | undefined {
    const a = this.states.get(service)?.assignments[this.id.host];
    return a && this.acted[service] === a.generation ? a.generation : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.keepAliveTimer);
    for (const w of this.watches) w.close();
    // Leave at once, so the leader does not wait a lease TTL to see this host gone.
    if (this.lease) await this.client.revokeLease(this.lease).catch(() => {});
  }

  private take(value: string): void {
    try {
      const s = JSON.parse(value) as FleetServiceState;
      this.states.set(s.name, s);
    } catch {
      this.log.warn('unreadable fleet state in etcd', { value: value.slice(0, 100) });
    }
  }

  private async applyDrain(value: string | undefined): Promise<void> {
    const drained = value !== undefined && value !== '';
    if (drained === this.drained) return;
    this.drained = drained;
    this.log.info(drained ? 'host drained: the gateway fails its health check' : 'host resumed', {
      host: this.id.host,
    });
    await this.setServing(!drained, drained ? 'host drain' : undefined).catch((err: unknown) =>
      this.log.error('cannot tell the gateway', { error: (err as Error).message }),
    );
    this.lastReport = '';
    this.kick();
  }

  private async ensureLease(): Promise<void> {
    if (this.lease) return;
    this.lease = await this.client.grantLease(this.ttlSeconds);
    this.lastReport = '';
  }

  private keepAlive(): void {
    if (this.stopped || !this.lease) return;
    const lease = this.lease;
    this.client
      .keepAlive(lease)
      .then((ttl) => {
        if (ttl > 0) {
          this.lastContact = Date.now();
          return;
        }
        // Expired while etcd was out of reach: a new lease and a fresh report.
        this.log.warn('host lease expired; joining again', { host: this.id.host });
        if (this.lease === lease) this.lease = null;
        this.kick();
      })
      .catch((err: unknown) => this.log.warn('host heartbeat failed', { error: (err as Error).message }));
  }

  private kick(): void {
    if (this.busy || this.stopped) return;
    this.busy = true;
    this.step()
      .catch((err: unknown) => this.log.warn('fleet host step failed', { error: (err as Error).message }))
      .finally(() => {
        this.busy = false;
      });
  }

  private async step(): Promise<void> {
    const cutOff = Date.now() - this.lastContact > this.ttlSeconds * 1000;
    this.holdWhileCutOff(cutOff);
    if (!cutOff) this.follow();
    try {
      await this.ensureLease();
      const report = this.report();
      const raw = JSON.stringify({ ...report, reportedAt: 0 });
      if (raw !== this.lastReport) {
        await this.client.put(this.keys.host(this.id.host), JSON.stringify(report), { lease: this.lease! });
        this.lastReport = raw;
      }
      this.lastContact = Date.now();
      if (this.failing) this.log.info('etcd reachable again', { host: this.id.host });
      this.failing = false;
    } catch (err) {
      // Once per outage: the loop retries every FOLLOW_INTERVAL_MS.
      if (!this.failing)
        this.log.warn('etcd unreachable; serving on, changing nothing', {
          host: this.id.host,
          error: (err as Error).message,
        });
      this.failing = true;
    }
  }

  /**
   * A host cut off from the fleet freezes its local rollouts: the leader may have rolled the fleet
   * back meanwhile, so going on could be the wrong way. Nothing is stopped; it resumes on contact.
   */
  private holdWhileCutOff(cutOff: boolean): void {
    if (cutOff) {
      for (const svc of this.controller.services()) {
        const local = this.controller.state(svc.name);
        if (!local?.rollout || local.rollout.manualPause || this.pausedHere.has(svc.name)) continue;
        if (this.controller.run(svc.name, (_svc, s) => setPaused(s, true)).ok) {
          this.pausedHere.add(svc.name);
          this.log.warn('cut off from etcd: local rollout paused', { host: this.id.host, service: svc.name });
        }
      }
      return;
    }
    for (const name of this.pausedHere) {
      this.controller.run(name, (_svc, s) => setPaused(s, false));
      this.log.info('back in touch with etcd: local rollout resumed', { host: this.id.host, service: name });
    }
    this.pausedHere.clear();
  }

  /** Acts on this host's assignments through its controller. */
  private follow(): void {
    for (const svc of this.controller.services()) {
      const a = this.states.get(svc.name)?.assignments[this.id.host];
      const local = this.controller.state(svc.name);
      if (!a || !local) continue;
      const action = followAssignment(a, local, this.acted[svc.name] ?? 0);
      if (action.type === 'deploy') {
        const r = this.controller.deploy(svc.name, action.target.version, action.target.run);
        if (!r.ok) continue;
        // In the same tick as the deploy, before its first reconcile runs a step the fleet did not allow.
        if (a.canaryStep !== undefined) {
          const step = a.canaryStep;
          this.controller.run(svc.name, (_svc, s) => setFleetStep(s, step));
        }
        this.acted = { ...this.acted, [svc.name]: a.generation };
        this.saveActed();
        this.log.info('host follows its assignment', {
          host: this.id.host,
          service: svc.name,
          version: action.target.version,
          generation: a.generation,
          revision: r.revision,
        });
      } else if (action.type === 'promote') {
        const r = this.controller.run(svc.name, (spec, s, now) => promote(spec, s, now, action.full));
        if (r.ok)
          this.log.info('host switches to its preview with the fleet', {
            host: this.id.host,
            service: svc.name,
            generation: a.generation,
          });
      } else if (action.type === 'fleetStep') {
        const r = this.controller.run(svc.name, (_svc, s) => setFleetStep(s, action.step));
        if (r.ok)
          this.log.info('host takes the fleet canary step', {
            host: this.id.host,
            service: svc.name,
            generation: a.generation,
            step: action.step,
          });
      } else if (action.type === 'abort') {
        const r = this.controller.run(svc.name, (_svc, s, now) => abort(s, now));
        if (r.ok)
          this.log.info('host ends a local rollout the fleet no longer wants', {
            host: this.id.host,
            service: svc.name,
            generation: a.generation,
          });
      }
    }
  }

  private saveActed(): void {
    const tmp = `${this.actedFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.acted), { mode: 0o600 });
    renameSync(tmp, this.actedFile);
  }

  report(): HostReport {
    const services: HostReport['services'] = {};
    for (const svc of this.controller.services()) {
      const local = this.controller.state(svc.name);
      if (!local) continue;
      const instances = this.controller.instances(svc.name);
      services[svc.name] = serviceReport(
        this.states.get(svc.name)?.assignments[this.id.host],
        local,
        this.acted[svc.name] ?? 0,
        {
          ready: instances.filter((i) => i.ready).length,
          total: instances.length,
          routesVersion: this.controller.routesVersion,
        },
      );
    }
    return {
      host: this.id.host,
      advertise: this.id.advertise,
      controlPort: this.id.controlPort,
      gatewayPort: this.id.gatewayPort,
      startedAt: this.startedAt,
      reportedAt: Date.now(),
      drained: this.drained,
      configHash: this.id.configHash,
      services,
    };
  }
}
