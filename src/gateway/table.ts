/**
 * The route table as one worker holds it: the compiled router, every routed instance and its balancing
 * state, instances retired by a newer table until their last request ends, passive ejection, and the
 * in-flight counts and counters the master asks for.
 */
import type { Logger } from '../log/logger.ts';
import type { ConcurrencyLimit } from './concurrency.ts';
import type { LimitSource } from './limit-source.ts';
import { LocalLimitSource } from './limit-source.ts';
import type { GatewaySettings, RouteService, RouteTable, ServiceStats } from './protocol.ts';
import { Router } from './router.ts';
import { applyPolicy, dropRemoved, type PolicyState } from './service-policy.ts';
import { GatewayStats } from './stats.ts';
import { compileMirror, compileTraffic } from './traffic.ts';
import { trustMatcher } from './trust.ts';
import { type Closable, RoutedService, Upstream } from './upstream.ts';

export class Routing {
  readonly settings: GatewaySettings;
  readonly logger: Logger;
  router: Router<RoutedService> = new Router<RoutedService>([]);
  services = new Map<string, RoutedService>();
  instances = new Map<string, Upstream>();
  /** Removed from the table, still busy. */
  readonly retired = new Set<Upstream>();
  /** Retry budgets and concurrency limits by service, kept across tables. */
  readonly #kept: PolicyState;
  /** Counters behind GET /stats, since this worker started. */
  readonly stats = new GatewayStats();

  constructor(settings: GatewaySettings, logger: Logger) {
    this.settings = settings;
    this.logger = logger;
    this.#kept = {
      budgets: new Map(),
      limits: new Map(),
      rates: new Map(),
      limitSource: new LocalLimitSource(),
      trusted: trustMatcher(settings.trustedProxies),
      workers: settings.workers,
      current: (s) => this.current(s),
    };
  }

  apply(table: RouteTable): void {
    const next = new Map<string, Upstream>();
    const services = new Map<string, RoutedService>();
    const entries = [];
    for (const def of table.services) {
      const service = this.#compile(def, next);
      services.set(def.name, service);
      entries.push({ host: def.host, pathPrefix: def.pathPrefix, value: service });
    }
    dropRemoved(this.#kept, new Set(services.keys()));
    const router = new Router(entries);
    const old = this.instances;
    this.instances = next;
    this.services = services;
    this.router = router;
    for (const [id, up] of old) if (next.get(id) !== up) this.retire(up);
  }

  /**
   * One service of a new table; an instance listed before at the same address and protocol keeps its
   * connections and counts (a new protocol means a new dispatcher: the old one retires with its requests).
   */
  #compile(def: RouteService, next: Map<string, Upstream>): RoutedService {
    const ups: Upstream[] = [];
    const svcStats = this.stats.service(def.name);
    const protocol = def.protocol ?? 'http';
    for (const u of def.upstreams) {
      let up = next.get(u.instance);
      if (up === undefined) {
        const existing = this.instances.get(u.instance);
        up =
          existing !== undefined && existing.address === u.address && existing.protocol === protocol
            ? existing
            : new Upstream(u.instance, u.address, this.settings, protocol);
        next.set(u.instance, up);
      }
      up.drainTimeoutMs = def.drainTimeoutMs ?? 0;
      up.stats = svcStats.revision(u.revision, u.role ?? 'stable', u.version);
      ups.push(up);
    }
    let compiled = null;
    if (def.traffic !== undefined) {
      const c = compileTraffic(def.traffic);
      if (c.problems.length > 0) {
        this.logger.error('traffic rules with problems (those conditions never match)', {
          service: def.name,
          problems: c.problems,
        });
      }
      compiled = {
        decide: c.decide,
        mirror: def.traffic.mirror ? compileMirror(def.traffic.mirror) : null,
      };
    }
    const routed = new RoutedService(def, ups, this.settings.upstreamTimeoutMs, svcStats, compiled);
    applyPolicy(routed, def, ups, this.#kept, this.logger);
    return routed;
  }

  retire(up: Upstream): void {
    up.retired = true;
    if (up.inflight > 0) this.retired.add(up);
    this.logger.info('instance retired', { instance: up.instance, inflight: up.inflight });
    // Idle connections close now, busy ones after their response.
    up.pool.close().catch(noop);
    for (const relay of up.relays) relay.closeGoingAway('instance retired');
    if (up.grpcCalls !== null && up.grpcCalls.size > 0 && up.drainTimeoutMs > 0) {
      // Long server streams never end by themselves: after drainTimeout (the controller signals the
      // instance then) they end with a status the client retries on, not with a transport reset.
      up.drainTimer = setTimeout(() => {
        up.drainTimer = null;
        const ended = up.endGrpcCalls(GRPC_DRAIN_MESSAGE);
        if (ended > 0)
          this.logger.info('gRPC calls ended: instance drained', { instance: up.instance, calls: ended });
      }, up.drainTimeoutMs);
      up.drainTimer.unref();
    }
  }

  /** Called when a retired instance may have become idle. */
  release(up: Upstream): void {
    if (up.retired && up.inflight === 0) {
      this.retired.delete(up);
      if (up.drainTimer !== null) {
        clearTimeout(up.drainTimer);
        up.drainTimer = null;
      }
    }
  }

  /** Where `limits.rate` tokens come from (a worker: its master); before the first table. */
  useLimitSource(source: LimitSource): void {
    this.#kept.limitSource = source;
  }

  /** `limits.maxInFlightPerInstance` of a service (the same across its tables), null without. */
  limitOf(service: RoutedService): ConcurrencyLimit | null {
    return this.#kept.limits.get(service.name)?.limit ?? null;
  }

  /** The service in the current table (the same name), or the old one if it was removed. */
  current(service: RoutedService): RoutedService {
    return this.services.get(service.name) ?? service;
  }

  connectFailed(up: Upstream, err: Error): void {
    const s = this.settings;
    up.failures++;
    if (up.failures >= s.ejectAfterFailures && s.ejectAfterFailures > 0) {
      const wasEjected = up.ejectedUntil > Date.now();
      up.ejectedUntil = Date.now() + s.ejectForMs;
      if (!wasEjected) {
        up.stats.owner?.ejected(up.instance);
        this.logger.warn('instance ejected', {
          instance: up.instance,
          address: up.address,
          failures: up.failures,
          ejectForMs: s.ejectForMs,
          error: err,
        });
      }
    }
  }

  connectSucceeded(up: Upstream): void {
    if (up.failures !== 0) {
      up.failures = 0;
      up.ejectedUntil = 0;
    }
  }

  /** Routed and retired instances. */
  upstreams(): Upstream[] {
    return [...this.instances.values(), ...this.retired];
  }

  /** The WebSocket relays of every instance, routed or retired. */
  relays(): Closable[] {
    const relays = [];
    for (const up of this.instances.values()) relays.push(...up.relays);
    for (const up of this.retired) relays.push(...up.relays);
    return relays;
  }

  /** This worker's counters for GET /stats. */
  statsReport(): Record<string, ServiceStats> {
    return this.stats.report(this.upstreams());
  }

  inflight(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, up] of this.instances) out[id] = (out[id] ?? 0) + up.inflight;
    for (const up of this.retired) {
      if (up.inflight > 0) out[up.instance] = (out[up.instance] ?? 0) + up.inflight;
    }
    return out;
  }

  totalInflight(): number {
    let n = 0;
    for (const up of this.instances.values()) n += up.inflight;
    for (const up of this.retired) n += up.inflight;
    return n;
  }
}

/** The answer's body when no route matches a request. */
export function noRouteBody(host: string | undefined, path: string): string {
  return `cutover: no route for host ${JSON.stringify(host ?? '')} path ${JSON.stringify(path)}\n`;
}

/** `grpc-message` of calls the gateway ends because their instance is draining. */
export const GRPC_DRAIN_MESSAGE = 'cutover: instance draining, retry the call';

function noop(): void {}
