import { Pool } from 'undici';
import type { RouteService, UpstreamRole } from './protocol.ts';
import { RevisionCounters, type ServiceCounters } from './stats.ts';
import type { Decide, MirrorFilter } from './traffic.ts';
import { parseAddress } from './validate.ts';

/** Anything that holds an upstream busy outside undici (a WebSocket relay) and can be closed on retire. */
export interface Closable {
  closeGoingAway(reason: string): void;
  destroy(): void;
}

export interface PoolSettings {
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamIdleTimeoutMs: number;
}

/** One instance of a service, as seen by one worker. */
export class Upstream {
  readonly instance: string;
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly pool: Pool;
  /** Requests + WebSocket connections assigned to this instance and not finished yet. */
  inflight = 0;
  /** Consecutive connect failures. */
  failures = 0;
  /** 0, or the Date.now() until which the instance is skipped. */
  ejectedUntil = 0;
  retired = false;
  /**
   * Set by the pool's 'connect' event; undici then writes one request on that new connection in the same
   * tick, so the next onConnect knows its connection is fresh (every other one is a reused keep-alive one).
   */
  justConnected = false;
  readonly relays = new Set<Closable>();
  /** Counters of this instance's revision in its service (set by the route table that lists it). */
  stats: RevisionCounters = DETACHED_STATS;

  constructor(instance: string, address: string, settings: PoolSettings) {
    this.instance = instance;
    this.address = address;
    const parsed = parseAddress(address);
    this.host = parsed?.host ?? address;
    this.port = parsed?.port ?? 0;
    const idle = Math.max(1, settings.upstreamIdleTimeoutMs);
    this.pool = new Pool(`http://${address}`, {
      pipelining: 1,
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: idle,
      connectTimeout: settings.connectTimeoutMs,
      headersTimeout: settings.upstreamTimeoutMs,
      // Streams (SSE, long downloads) may legitimately pause for long: no body idle timeout.
      bodyTimeout: 0,
    });
    this.pool.on('connect', () => {
      this.justConnected = true;
    });
  }
}

/** Counters for upstreams created outside a route table (never reported). */
const DETACHED_STATS = new RevisionCounters('stable');

/** Upstreams balanced together (a whole service, or one role of it). */
export class UpstreamGroup {
  readonly leastInFlight: boolean;
  readonly upstreams: Upstream[];
  /** Round-robin cursor (also breaks ties for leastInFlight). */
  cursor = 0;

  constructor(upstreams: Upstream[], leastInFlight: boolean) {
    this.upstreams = upstreams;
    this.leastInFlight = leastInFlight;
  }

  /**
   * Picks an instance, skipping `exclude`d ones and ejected ones (an ejected one is still returned when
   * nothing else is left). Null when every instance is excluded or there is none.
   */
  pick(exclude: readonly Upstream[] | null): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    if (n === 1) {
      const only = ups[0];
      return exclude?.includes(only) ? null : only;
    }
    let start = this.cursor;
    if (start >= n) start = 0;
    this.cursor = start + 1;
    let now = 0;
    let best: Upstream | null = null;
    let fallback: Upstream | null = null;
    for (let k = 0; k < n; k++) {
      let idx = start + k;
      if (idx >= n) idx -= n;
      const u = ups[idx];
      if (exclude?.includes(u)) continue;
      if (u.ejectedUntil !== 0) {
        if (now === 0) now = Date.now();
        if (u.ejectedUntil > now) {
          if (fallback === null || u.inflight < fallback.inflight) fallback = u;
          continue;
        }
      }
      if (!this.leastInFlight) return u;
      if (best === null || u.inflight < best.inflight) best = u;
    }
    return best ?? fallback;
  }
}

/** A service's `traffic`, compiled, with its upstreams split by role. */
export interface ServiceTraffic {
  decide: Decide;
  stable: UpstreamGroup;
  canary: UpstreamGroup;
  preview: UpstreamGroup;
  mirror: MirrorFilter | null;
}

/** A service as this worker routes it: its balancing group(s), counters and precomputed error bodies. */
export class RoutedService extends UpstreamGroup {
  readonly name: string;
  /** Null: no `traffic` in the table, every upstream is one pool (the group this object is). */
  readonly traffic: ServiceTraffic | null;
  readonly stats: ServiceCounters;
  /** Precomputed error bodies. */
  readonly noInstanceBody: string;
  readonly noPreviewBody: string;
  readonly connectFailedBody: string;
  readonly timeoutBody: string;
  readonly upstreamErrorBody: string;

  constructor(
    def: RouteService,
    upstreams: Upstream[],
    upstreamTimeoutMs: number,
    stats: ServiceCounters,
    compiled: { decide: Decide; mirror: MirrorFilter | null } | null = null,
  ) {
    const leastInFlight = def.balance === 'leastInFlight';
    super(upstreams, leastInFlight);
    this.name = def.name;
    this.stats = stats;
    if (compiled === null) this.traffic = null;
    else {
      const byRole: Record<UpstreamRole, Upstream[]> = { stable: [], canary: [], preview: [] };
      def.upstreams.forEach((u, i) => {
        byRole[u.role ?? 'stable'].push(upstreams[i]);
      });
      this.traffic = {
        decide: compiled.decide,
        stable: new UpstreamGroup(byRole.stable, leastInFlight),
        canary: new UpstreamGroup(byRole.canary, leastInFlight),
        preview: new UpstreamGroup(byRole.preview, leastInFlight),
        mirror: compiled.mirror,
      };
    }
    const svc = JSON.stringify(def.name);
    this.noInstanceBody = `cutover: no ready instance for service ${svc}\n`;
    this.noPreviewBody = `cutover: no ready preview instance for service ${svc}\n`;
    this.connectFailedBody = `cutover: could not connect to any instance of service ${svc}\n`;
    this.timeoutBody = `cutover: service ${svc} did not send response headers within ${upstreamTimeoutMs}ms\n`;
    this.upstreamErrorBody = `cutover: instance of service ${svc} failed before responding\n`;
  }

  /**
   * The group that serves `role`: preview only serves preview; an empty stable or canary group falls back
   * to the other one. Without `traffic`, the whole service. Null when nothing can serve it.
   */
  groupFor(role: UpstreamRole | null): UpstreamGroup | null {
    const t = this.traffic;
    if (t === null || role === null) return this;
    if (role === 'preview') return t.preview.upstreams.length > 0 ? t.preview : null;
    const first = role === 'canary' ? t.canary : t.stable;
    if (first.upstreams.length > 0) return first;
    const other = role === 'canary' ? t.stable : t.canary;
    return other.upstreams.length > 0 ? other : null;
  }

  /** Like `pick`, within the group serving `role` (used by retries). */
  pickFor(role: UpstreamRole | null, exclude: readonly Upstream[] | null): Upstream | null {
    if (this.traffic === null) return this.pick(exclude);
    return this.groupFor(role ?? 'stable')?.pick(exclude) ?? null;
  }
}
