/**
 * The leading controller's loop: observes the fleet in etcd (host reports, service states,
 * submitted commands), asks the pure fleet core what to do, and writes the decision back in one
 * fenced transaction. A deposed leader's transaction fails, so it never writes.
 */
import type { CutoverConfig, ServiceConfig } from '../config/types.ts';
import {
  type FleetCommandResult,
  fleetAbort,
  fleetDeploy,
  fleetPromote,
  fleetSetPaused,
  fleetUndo,
} from '../core/fleet/commands.ts';
import type { FleetEvent, FleetServiceSpec, FleetServiceState, HostReport } from '../core/fleet/model.ts';
import { initialFleetState, reconcileFleet } from '../core/fleet/rollout.ts';
import type { Logger } from '../log/logger.ts';
import type { EtcdClient, Op } from '../store/etcd/client.ts';
import type { FleetCommand, FleetCommandAnswer } from './command.ts';
import { fleetConfigHash } from './config-hash.ts';
import type { FleetKeys } from './keys.ts';
import type { Leadership } from './leadership.ts';
import type { StoredFleetEvent } from './view.ts';

/** How often the leader reconciles the fleet. */
const LEADER_INTERVAL_MS = 200;
/** Fleet events kept in etcd, and how many new ones between two prunings. */
const EVENTS_KEPT = 1000;
const EVENTS_PRUNE_EVERY = 100;
/** An answer nobody read is gone after this long (its submitter timed out or died). */
const RESULT_TTL_SECONDS = 120;

export function fleetSpec(
  svc: ServiceConfig,
  members: string[],
  onHostLost: 'pause' | 'continue',
): FleetServiceSpec {
  const hosts = svc.hosts === 'all' || svc.hosts === undefined ? [...members].sort() : svc.hosts;
  const strategy = svc.strategy;
  if (strategy.type === 'rolling') {
    return {
      name: svc.name,
      hosts,
      hostsAtOnce: strategy.hostsAtOnce ?? 1,
      onHostLost,
      strategy: { type: 'rolling' },
    };
  }
  if (strategy.type === 'canary') {
    // Every host runs the steps itself; the leader keeps them in step and holds them at untimed pauses.
    const holds = strategy.steps.flatMap((s, i) =>
      'pause' in s && s.pause.durationMs === undefined ? [i] : [],
    );
    return {
      name: svc.name,
      hosts,
      hostsAtOnce: '100%',
      onHostLost,
      strategy: { type: 'canary', steps: strategy.steps.length, holds },
    };
  }
  // Blue-green: a preview on every host, one switch.
  const bg = strategy;
  return {
    name: svc.name,
    hosts,
    hostsAtOnce: '100%',
    onHostLost,
    strategy: {
      type: 'blueGreen',
      autoPromote: bg?.autoPromote ?? false,
      autoPromoteAfterMs: bg?.autoPromoteAfterMs ?? 0,
    },
  };
}

function decode<T>(value: string): T | undefined {
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

export class FleetLeader {
  private readonly client: EtcdClient;
  private readonly keys: FleetKeys;
  private readonly leadership: Leadership;
  private readonly log: Logger;
  private readonly now: () => number;
  private config: CutoverConfig;
  private readonly host: string;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private again = false;
  private stopped = false;
  private seq = 0;
  private eventsWritten = 0;
  private answers: { id: string; at: number } | null = null;
  private readonly watches: Array<{ close(): void }> = [];

  constructor(opts: {
    client: EtcdClient;
    keys: FleetKeys;
    leadership: Leadership;
    config: CutoverConfig;
    host: string;
    log: Logger;
    now?: () => number;
  }) {
    this.host = opts.host;
    this.client = opts.client;
    this.keys = opts.keys;
    this.leadership = opts.leadership;
    this.config = opts.config;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), LEADER_INTERVAL_MS);
    // A host's report or a command is acted on at once, not at the next interval.
    this.client
      .range(this.keys.leader)
      .then((r) => {
        if (this.stopped) return;
        for (const prefix of [this.keys.hosts, this.keys.commands]) {
          this.watches.push(this.client.watch(prefix, r.revision, () => this.tick()));
        }
      })
      .catch(() => {});
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const w of this.watches) w.close();
  }

  setConfig(config: CutoverConfig): void {
    this.config = config;
  }

  private tick(): void {
    if (this.stopped || !this.leadership.isLeader()) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.reconcile()
      .catch((err: unknown) => this.log.warn('fleet reconcile failed', { error: (err as Error).message }))
      .finally(() => {
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.tick();
        }
      });
  }

  /** One pass: read everything, decide, write it all in one fenced transaction. */
  async reconcile(): Promise<void> {
    const [hosts, members, services, commands] = await Promise.all([
      this.client.range(this.keys.hosts),
      this.client.range(this.keys.members),
      this.client.range(this.keys.services),
      this.client.range(this.keys.commands),
    ]);
    const reports: Record<string, HostReport> = {};
    for (const kv of hosts.kvs) {
      const r = decode<HostReport>(kv.value);
      if (r) reports[r.host] = r;
    }
    const memberNames = members.kvs.map((kv) => kv.key.slice(this.keys.members.length));
    const states = new Map<string, { state: FleetServiceState; raw: string }>();
    for (const kv of services.kvs) {
      const s = decode<FleetServiceState>(kv.value);
      if (s) states.set(s.name, { state: s, raw: kv.value });
    }
    const pending = commands.kvs
      .map((kv) => ({ key: kv.key, cmd: decode<FleetCommand>(kv.value) }))
      .sort((a, b) => (a.cmd?.at ?? 0) - (b.cmd?.at ?? 0));
    const now = this.now();
    const ops: Op[] = [];
    const events: FleetEvent[] = [];
    const answered: string[] = [];
    const onHostLost = this.config.cluster?.onHostLost ?? 'pause';
    for (const svc of Object.values(this.config.services)) {
      const spec = fleetSpec(svc, memberNames, onHostLost);
      const known = states.get(svc.name);
      let state = known?.state ?? initialFleetState(svc.name, { version: svc.version, run: svc.run });
      for (const p of pending) {
        if (p.cmd?.service !== svc.name) continue;
        const refused =
          p.cmd.type === 'deploy' || p.cmd.type === 'undo' ? this.refusal(spec, memberNames, reports) : null;
        const r: FleetCommandResult = refused ?? this.apply(spec, state, p.cmd, now, reports);
        if (r.ok) {
          state = r.state;
          events.push(...r.events);
        }
        const answer: FleetCommandAnswer = r.ok
          ? { ok: true, message: r.events[0]?.message ?? 'done', generation: r.state.generation }
          : { ok: false, code: r.code, message: r.message };
        ops.push(
          {
            put: {
              key: this.keys.result(p.cmd.id),
              value: JSON.stringify(answer),
              lease: await this.resultsLease(),
            },
          },
          { delete: { key: p.key } },
        );
        answered.push(p.key);
      }
      const step = reconcileFleet(spec, state, reports, now);
      events.push(...step.events);
      const raw = JSON.stringify(step.state);
      if (raw !== known?.raw) ops.push({ put: { key: this.keys.service(svc.name), value: raw } });
    }
    for (const p of pending) {
      if (answered.includes(p.key)) continue;
      const answer: FleetCommandAnswer = {
        ok: false,
        code: 'unknown_service',
        message: `unknown service "${p.cmd?.service}" (the leader's config has ${Object.keys(this.config.services).join(', ')})`,
      };
      if (p.cmd) {
        ops.push({
          put: {
            key: this.keys.result(p.cmd.id),
            value: JSON.stringify(answer),
            lease: await this.resultsLease(),
          },
        });
      }
      ops.push({ delete: { key: p.key } });
    }
    for (const e of events) {
      const stored: StoredFleetEvent = { ...e, time: now };
      ops.push({ put: { key: this.keys.event(now, this.seq++), value: JSON.stringify(stored) } });
    }
    if (ops.length === 0) return;
    await this.leadership.fencedTxn({ success: ops });
    for (const e of events) {
      this.log.info(e.message, { event: e.type, service: e.service, host: e.host, generation: e.generation });
    }
    this.eventsWritten += events.length;
    if (this.eventsWritten >= EVENTS_PRUNE_EVERY) {
      this.eventsWritten = 0;
      await this.pruneEvents();
    }
  }

  /** Keeps the newest EVENTS_KEPT fleet events (the oldest go, as etcd is no archive). */
  private async pruneEvents(): Promise<void> {
    const all = await this.client.range(this.keys.events);
    const old = all.kvs.slice(0, Math.max(0, all.kvs.length - EVENTS_KEPT));
    if (old.length === 0) return;
    await this.leadership.fencedTxn({ success: old.map((kv) => ({ delete: { key: kv.key } })) });
  }

  /**
   * Answers live on a lease, so an answer whose submitter died (and never read and deleted it)
   * goes by itself. One lease serves every answer for a while.
   */
  private async resultsLease(): Promise<string> {
    const now = this.now();
    if (this.answers === null || now - this.answers.at > (RESULT_TTL_SECONDS * 1000) / 2) {
      this.answers = { id: await this.client.grantLease(RESULT_TTL_SECONDS), at: now };
    }
    return this.answers.id;
  }

  /** Why a rollout must not start: hosts that never joined, or hosts whose config differs. */
  private refusal(
    spec: FleetServiceSpec,
    members: string[],
    reports: Record<string, HostReport>,
  ): FleetCommandResult | null {
    const unknown = spec.hosts.filter((h) => !members.includes(h));
    if (unknown.length > 0) {
      return {
        ok: false,
        code: 'unknown_host',
        message: `services.${spec.name}.hosts: ${unknown.join(', ')} never joined the fleet (hosts: ${members.join(', ') || 'none'}); nothing was changed`,
      };
    }
    const own = fleetConfigHash(this.config);
    const differ = Object.values(reports)
      .filter((r) => r.configHash !== own)
      .map((r) => r.host);
    if (differ.length > 0) {
      return {
        ok: false,
        code: 'config_mismatch',
        message: `the config of ${differ.join(', ')} differs from the leader's (${this.host}); give every host the same file; nothing was changed`,
      };
    }
    return null;
  }

  private apply(
    spec: FleetServiceSpec,
    state: FleetServiceState,
    cmd: FleetCommand,
    now: number,
    reports: Record<string, HostReport>,
  ): FleetCommandResult {
    switch (cmd.type) {
      case 'deploy':
        return fleetDeploy(
          spec,
          state,
          { version: cmd.version ?? '', run: cmd.run ?? state.desired.run },
          now,
        );
      case 'abort':
        return fleetAbort(state, `aborted by ${cmd.actor}`);
      case 'pause':
        return fleetSetPaused(state, true);
      case 'resume':
        return fleetSetPaused(state, false);
      case 'undo':
        return fleetUndo(spec, state, now);
      case 'promote':
        return fleetPromote(spec, state, reports, cmd.full === true);
    }
  }
}
