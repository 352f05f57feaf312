/**
 * A route table's traffic policy applied to a compiled service: outlier detection over the
 * instances of each revision, and the retry attempts with a budget that outlives table changes
 * (a new table must not hand a retry storm a fresh allowance).
 */
import type { Logger } from '../log/logger.ts';
import { ConcurrencyLimit } from './concurrency.ts';
import { ConnectionLimit } from './connection-limit.ts';
import type { LimitSource } from './limit-source.ts';
import { OutlierDetector } from './outlier.ts';
import type { RouteService } from './protocol.ts';
import { RateLimiter } from './rate-limit.ts';
import { RetryBudget } from './retry-budget.ts';
import type { RoutedService, Upstream } from './upstream.ts';

/** What a worker keeps per service across route tables. */
export interface PolicyState {
  budgets: Map<string, { percent: number; budget: RetryBudget }>;
  limits: Map<string, { key: string; limit: ConcurrencyLimit }>;
  rates: Map<string, RateLimiter>;
  limitSource: LimitSource;
  trusted: (peer: string | undefined) => boolean;
  workers: number;
  current: (s: RoutedService) => RoutedService;
}

export function applyPolicy(
  service: RoutedService,
  def: RouteService,
  ups: Upstream[],
  kept: PolicyState,
  log: Logger,
): void {
  const budgets = kept.budgets;
  const max = def.policy?.maxInFlightPerInstance;
  if (max === undefined) kept.limits.delete(def.name);
  else {
    const queueMs = def.policy?.queueTimeoutMs ?? 0;
    const key = `${max}/${queueMs}`;
    let l = kept.limits.get(def.name);
    // A changed limit starts a new queue; the old one's waiters still time out or get served by it.
    if (l === undefined || l.key !== key) {
      l = { key, limit: new ConcurrencyLimit(max, kept.workers, queueMs, kept.current) };
      kept.limits.set(def.name, l);
    }
  }
  service.rate = applyRate(def, kept);
  service.connections = applyConnections(def, kept);
  const od = def.policy?.outlierDetection;
  if (od !== undefined) {
    const byRevision = new Map<number, Upstream[]>();
    def.upstreams.forEach((u, i) => {
      const list = byRevision.get(u.revision);
      if (list === undefined) byRevision.set(u.revision, [ups[i]]);
      else list.push(ups[i]);
    });
    service.outliers = new OutlierDetector(od, def.name, byRevision, log);
  }
  const r = def.policy?.retries;
  if (r === undefined) {
    budgets.delete(def.name);
    return;
  }
  service.retryAttempts = r.attempts;
  let b = budgets.get(def.name);
  if (b === undefined || b.percent !== r.budgetPercent) {
    b = { percent: r.budgetPercent, budget: new RetryBudget(r.budgetPercent) };
    budgets.set(def.name, b);
  }
  service.retryBudget = b.budget;
}

/** `limits.rate`: the limiter (and the tokens this worker holds) outlives tables with the same policy. */
function applyRate(def: RouteService, kept: PolicyState): RateLimiter | null {
  const rate = def.policy?.rate;
  const old = kept.rates.get(def.name);
  if (rate === undefined) {
    old?.close();
    kept.rates.delete(def.name);
    return null;
  }
  const next = new RateLimiter(def.name, rate, kept.limitSource, kept.trusted);
  if (old?.set === next.set) return old;
  old?.close();
  kept.rates.set(def.name, next);
  return next;
}

/** `limits.maxConnectionsPerClient`: connections keep their slots while the limit changes. */
function applyConnections(def: RouteService, kept: PolicyState): ConnectionLimit | null {
  const max = def.policy?.maxConnectionsPerClient;
  return max === undefined ? null : new ConnectionLimit(def.name, max, kept.limitSource, kept.trusted);
}

/** Services gone from a new table take their limiters with them. */
export function dropRemoved(kept: PolicyState, names: ReadonlySet<string>): void {
  for (const [name, r] of kept.rates) {
    if (names.has(name)) continue;
    r.close();
    kept.rates.delete(name);
  }
}
