/**
 * Fault injection on a route (route `faults`, and the canary of `cutover drill`): a share of the
 * requests served by the named revision (or every request of the route) is answered by the gateway
 * with an error status, or held before it goes to the instance, like Istio's fault injection. Each
 * request rolls its own dice per fault. Injected faults are counted apart (`RevisionStats.faults`);
 * an aborted request is also a response of its revision (status class, latency), so analysis sees
 * it as the revision's error, which is what a drill wants.
 */
import type { FaultConfig } from '../config/types.ts';
import type { RevisionCounters } from './stats.ts';

/** What a fault needs of the request's exchange (exchange.ts). */
export interface FaultedExchange {
  readonly finished: boolean;
  readonly res: { once(event: 'close', listener: () => void): unknown };
  answer(status: number, headers: string[], body: string): void;
}

interface CompiledFault {
  revision: number | null;
  abortStatus: number;
  /** 0..1 */
  abortShare: number;
  delayMs: number;
  delayShare: number;
  abortBody: string;
}

const HEADERS_CT = 'text/plain; charset=utf-8';

export class Faults {
  readonly #faults: CompiledFault[];
  readonly #random: () => number;

  constructor(defs: readonly FaultConfig[], random: () => number = Math.random) {
    this.#random = random;
    this.#faults = defs.map((d) => ({
      revision: d.revision ?? null,
      abortStatus: d.abort?.status ?? 503,
      abortShare: (d.abort?.percent ?? 0) / 100,
      delayMs: d.delay?.ms ?? 0,
      delayShare: (d.delay?.percent ?? 0) / 100,
      abortBody: `cutover: fault injected (abort ${d.abort?.status ?? 503})\n`,
    }));
  }

  /** The faults of a route table entry, or null when it has none (the hot path then checks nothing). */
  static of(defs: readonly FaultConfig[] | undefined): Faults | null {
    return defs === undefined || defs.length === 0 ? null : new Faults(defs);
  }

  /**
   * Applies the faults that name the revision of `stats` (the chosen instance's): an abort answers
   * the request now, a delay sends it on (`dispatch`) later. False when no fault hit (the caller
   * dispatches as usual).
   */
  inject(ex: FaultedExchange, stats: RevisionCounters, dispatch: () => void): boolean {
    const revision = stats.revision;
    let delayMs = 0;
    let abort: CompiledFault | null = null;
    for (const f of this.#faults) {
      if (f.revision !== null && f.revision !== revision) continue;
      if (f.delayShare > 0 && delayMs === 0 && this.#random() < f.delayShare) delayMs = f.delayMs;
      if (f.abortShare > 0 && abort === null && this.#random() < f.abortShare) abort = f;
    }
    if (delayMs === 0 && abort === null) return false;
    if (delayMs === 0) {
      abortNow(ex, stats, abort!);
      return true;
    }
    stats.faultDelayed++;
    const timer = setTimeout(() => {
      if (ex.finished) return;
      if (abort !== null) abortNow(ex, stats, abort);
      else dispatch();
    }, delayMs);
    ex.res.once('close', () => clearTimeout(timer));
    return true;
  }
}

function abortNow(ex: FaultedExchange, stats: RevisionCounters, f: CompiledFault): void {
  stats.faultAborted++;
  ex.answer(f.abortStatus, ['content-type', HEADERS_CT, 'x-cutover-fault', 'abort'], f.abortBody);
}

function share(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100;
}

/** What is wrong with a route table's `faults` (the master refuses such a table), or null. */
export function faultsProblem(value: unknown): string | null {
  if (!Array.isArray(value)) return 'must be a list of { revision?, abort?, delay? }';
  for (const [i, f] of value.entries()) {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) return `[${i}] must be an object`;
    const { revision, abort, delay, ...rest } = f as Record<string, unknown>;
    if (Object.keys(rest).length > 0) return `[${i}] has unknown keys ${Object.keys(rest).join(', ')}`;
    if (revision !== undefined && !Number.isSafeInteger(revision))
      return `[${i}].revision must be an integer`;
    if (abort !== undefined) {
      const a = abort as Record<string, unknown>;
      if (!Number.isInteger(a?.status) || (a.status as number) < 400 || (a.status as number) > 599)
        return `[${i}].abort.status must be an HTTP status 400-599`;
      if (!share(a.percent)) return `[${i}].abort.percent must be 0..100`;
    }
    if (delay !== undefined) {
      const d = delay as Record<string, unknown>;
      if (typeof d?.ms !== 'number' || !Number.isFinite(d.ms) || d.ms < 0)
        return `[${i}].delay.ms must be >= 0`;
      if (!share(d.percent)) return `[${i}].delay.percent must be 0..100`;
    }
  }
  return null;
}
