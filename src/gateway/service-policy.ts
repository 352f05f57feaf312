/**
 * A route table's traffic policy applied to a compiled service: outlier detection over the
 * instances of each revision, and the retry attempts with a budget that outlives table changes
 * (a new table must not hand a retry storm a fresh allowance).
 */
import type { Logger } from '../log/logger.ts';
import { OutlierDetector } from './outlier.ts';
import type { RouteService } from './protocol.ts';
import { RetryBudget } from './retry-budget.ts';
import type { RoutedService, Upstream } from './upstream.ts';

export function applyPolicy(
  service: RoutedService,
  def: RouteService,
  ups: Upstream[],
  budgets: Map<string, { percent: number; budget: RetryBudget }>,
  log: Logger,
): void {
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
  let kept = budgets.get(def.name);
  if (kept === undefined || kept.percent !== r.budgetPercent) {
    kept = { percent: r.budgetPercent, budget: new RetryBudget(r.budgetPercent) };
    budgets.set(def.name, kept);
  }
  service.retryBudget = kept.budget;
}
