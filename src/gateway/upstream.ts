import { DEFAULT_GRPC_FAILURE_CODES } from '../config/defaults.ts';
import { GRPC_CODES } from '../config/keys.ts';
import type { LoadBalancer } from '../config/types.ts';
import { instanceSeed, pickHashed, pickRandom, pickTwoChoices } from './balance.ts';
import type { ConnectionLimit } from './connection-limit.ts';
import type { UpstreamDispatcher } from './dispatcher.ts';
import { Faults } from './faults.ts';
import { H1Upstream } from './h1-upstream.ts';
import { H2Upstream } from './h2-upstream.ts';
import { type AnswerObserver, newOutlierState, type OutlierState } from './outlier-state.ts';
import type { RouteService, UpstreamProtocol, UpstreamRole } from './protocol.ts';
import type { RateLimiter } from './rate-limit.ts';
import { type KeyReader, keyReader } from './request-key.ts';
import type { RetryBudget } from './retry-budget.ts';
import { RevisionCounters, type ServiceCounters } from './stats.ts';
import { type Decide, fnv1a32, type MirrorFilter, type RequestHeaders } from './traffic.ts';
import { parseAddress } from './validate.ts';

/** Anything that holds an upstream busy outside its dispatcher (a WebSocket relay) and can be closed on retire. */
export interface Closable {
  closeGoingAway(reason: string): void;
  destroy(): void;
}

/** A gRPC call in flight on an instance, which the gateway can end itself with a retryable status. */
export interface GrpcCall {
  /** Ends the call towards the client with `grpc-status: 14` (UNAVAILABLE) and `message`. */
  endUnavailable(message: string): void;
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
  /** How the gateway speaks to the instance (`http`: HTTP/1.1 pool; `h2c`/`grpc`: one HTTP/2 session). */
  readonly protocol: UpstreamProtocol;
  readonly pool: UpstreamDispatcher;
  /** gRPC calls in flight (only for `grpc` services: the drain ends them after `drainTimeoutMs`). */
  readonly grpcCalls: Set<GrpcCall> | null;
  /** The service's drainTimeout (from the table; 0 = the gateway never ends calls itself). */
  drainTimeoutMs = 0;
  /** Ends the gRPC calls still running once a retired instance's drainTimeout is over. */
  drainTimer: NodeJS.Timeout | null = null;
  /** Requests + WebSocket connections assigned to this instance and not finished yet. */
  inflight = 0;
  /** Consecutive connect failures. */
  failures = 0;
  /** 0, or the Date.now() until which the instance is skipped. */
  ejectedUntil = 0;
  /** `outlierDetection`'s record of this instance's recent answers. */
  readonly outlier: OutlierState = newOutlierState();
  retired = false;
  readonly relays = new Set<Closable>();
  /** Counters of this instance's revision in its service (set by the route table that lists it). */
  stats: RevisionCounters = DETACHED_STATS;

  constructor(
    instance: string,
    address: string,
    settings: PoolSettings,
    protocol: UpstreamProtocol = 'http',
  ) {
    this.instance = instance;
    this.address = address;
    this.protocol = protocol;
    const parsed = parseAddress(address);
    this.host = parsed?.host ?? address;
    this.port = parsed?.port ?? 0;
    this.grpcCalls = protocol === 'grpc' ? new Set() : null;
    // Streams (SSE, long downloads) may legitimately pause for long: HTTP/1.1 has no body idle timeout.
    this.pool =
      protocol === 'http'
        ? new H1Upstream({ address, host: this.host, port: this.port }, settings)
        : new H2Upstream(address, settings);
  }

  /** Ends every gRPC call still running on this instance with a retryable status (a drain ran out). */
  endGrpcCalls(message: string): number {
    const calls = this.grpcCalls;
    if (calls === null || calls.size === 0) return 0;
    const all = [...calls];
    calls.clear();
    for (const call of all) call.endUnavailable(message);
    return all.length;
  }
}

/** `grpc.failureCodes` when a table does not list them. */
const DEFAULT_FAILURE_CODES: readonly number[] = DEFAULT_GRPC_FAILURE_CODES.map((name) => GRPC_CODES[name]);

/** gRPC status codes 0..16: true where the code counts as a failed request of the revision. */
function failureCodeSet(codes: readonly number[] | undefined): boolean[] {
  const out = new Array<boolean>(17).fill(false);
  for (const c of codes ?? DEFAULT_FAILURE_CODES) if (c >= 0 && c <= 16) out[c] = true;
  return out;
}

const NO_FAILURES: readonly boolean[] = new Array<boolean>(17).fill(false);

/** Counters for upstreams created outside a route table (never reported). */
const DETACHED_STATS = new RevisionCounters('stable');

/** Upstreams balanced together (a whole service, or one role of it). */
export class UpstreamGroup {
  readonly leastInFlight: boolean;
  readonly upstreams: Upstream[];
  /** Round-robin cursor (also breaks ties for leastInFlight). */
  cursor = 0;
  readonly balance: LoadBalancer;
  /** `hash`: the rendezvous seed of each upstream (from its instance id only). */
  readonly seeds: number[] | null;

  constructor(upstreams: Upstream[], balance: LoadBalancer = 'roundRobin') {
    this.upstreams = upstreams;
    this.leastInFlight = balance === 'leastInFlight';
    this.balance = balance;
    this.seeds = balance === 'hash' ? upstreams.map((u) => instanceSeed(u.instance)) : null;
  }

  /**
   * The first choice of random, p2c and hash (`keyHash` -1: no key, round-robin); the usual scan when it
   * is excluded or ejected.
   */
  pickBalanced(exclude: readonly Upstream[] | null, keyHash: number): Upstream | null {
    const ups = this.upstreams;
    const b = this.balance;
    let i = -1;
    if (b === 'random') i = pickRandom(ups.length);
    else if (b === 'p2c') i = pickTwoChoices(ups);
    else if (b === 'hash' && keyHash >= 0 && this.seeds !== null) i = pickHashed(ups, this.seeds, keyHash);
    if (i >= 0) {
      const u = ups[i];
      if (!exclude?.includes(u) && (u.ejectedUntil === 0 || u.ejectedUntil <= Date.now())) return u;
    }
    return this.pick(exclude);
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
  readonly protocol: UpstreamProtocol;
  /** Indexed by gRPC status: whether it counts as a failure (`grpc` services only; else all false). */
  readonly grpcFailure: readonly boolean[];
  /** `hash`: reads the key of a request (undefined: none, balanced round-robin). */
  readonly hashKey: KeyReader | null;
  /** Null: no `traffic` in the table, every upstream is one pool (the group this object is). */
  readonly traffic: ServiceTraffic | null;
  /** `timeouts.request`: this service's wait for response headers (null: the gateway's upstreamTimeout). */
  readonly requestTimeoutMs: number | null;
  /** `outlierDetection` (set by the route table), null without. */
  outliers: AnswerObserver<Upstream> | null = null;
  /** `retries`: attempts and the budget shared by this service's requests in this worker (null: the gateway's). */
  retryAttempts: number | null = null;
  retryBudget: RetryBudget | null = null;
  /** `limits.rate` and `limits.maxConnectionsPerClient` (set by the route table; they outlive it), null without. */
  rate: RateLimiter | null = null;
  connections: ConnectionLimit | null = null;
  /** Without `traffic`: the upstreams of the table's `longLivedTo` revision, when it has any. */
  readonly longLived: UpstreamGroup | null;
  /** Null: the route injects no faults. */
  readonly faults: Faults | null;
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
    super(upstreams, def.balance);
    const hashKey = def.balance === 'hash' ? def.policy?.hashKey : undefined;
    this.hashKey = hashKey === undefined ? null : keyReader(hashKey);
    this.name = def.name;
    this.protocol = def.protocol ?? 'http';
    this.grpcFailure = this.protocol === 'grpc' ? failureCodeSet(def.grpcFailureCodes) : NO_FAILURES;
    this.stats = stats;
    const target = compiled === null ? def.longLivedTo : undefined;
    const newest =
      target === undefined ? [] : upstreams.filter((_u, i) => def.upstreams[i].revision === target);
    this.longLived = newest.length > 0 ? new UpstreamGroup(newest, def.balance) : null;
    this.faults = Faults.of(def.faults);
    if (compiled === null) this.traffic = null;
    else {
      const byRole: Record<UpstreamRole, Upstream[]> = { stable: [], canary: [], preview: [] };
      def.upstreams.forEach((u, i) => {
        byRole[u.role ?? 'stable'].push(upstreams[i]);
      });
      this.traffic = {
        decide: compiled.decide,
        stable: new UpstreamGroup(byRole.stable, def.balance),
        canary: new UpstreamGroup(byRole.canary, def.balance),
        preview: new UpstreamGroup(byRole.preview, def.balance),
        mirror: compiled.mirror,
      };
    }
    const svc = JSON.stringify(def.name);
    this.noInstanceBody = `cutover: no ready instance for service ${svc}\n`;
    this.noPreviewBody = `cutover: no ready preview instance for service ${svc}\n`;
    this.connectFailedBody = `cutover: could not connect to any instance of service ${svc}\n`;
    this.requestTimeoutMs = def.policy?.requestTimeoutMs ?? null;
    this.timeoutBody = `cutover: service ${svc} did not send response headers within ${this.requestTimeoutMs ?? upstreamTimeoutMs}ms\n`;
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

  /** The instance of `group` for a new request (its hash key read only by `hash`). */
  pickIn(group: UpstreamGroup, req: BalancedRequest, target: string): Upstream | null {
    if (group.balance === 'roundRobin' || group.balance === 'leastInFlight') return group.pick(null);
    const key =
      this.hashKey === null ? undefined : this.hashKey(req.headers, target, req.socket.remoteAddress);
    return group.pickBalanced(null, key === undefined || key === '' ? -1 : fnv1a32(key));
  }

  /**
   * The instance for a new long-lived connection (a WebSocket upgrade) without `traffic`: one of the
   * rollout's target revision when there is one, so the connection does not have to move again.
   */
  pickLongLived(): Upstream | null {
    return this.longLived?.pick(null) ?? this.pick(null);
  }

  /** Like `pick`, within the group serving `role` (used by retries). */
  pickFor(role: UpstreamRole | null, exclude: readonly Upstream[] | null): Upstream | null {
    if (this.traffic === null) return this.pick(exclude);
    return this.groupFor(role ?? 'stable')?.pick(exclude) ?? null;
  }
}

/** What `pickIn` reads of a client request. */
export interface BalancedRequest {
  readonly headers: RequestHeaders;
  readonly socket: { readonly remoteAddress?: string | undefined };
}
