/**
 * `POST /v1/services/{name}/drill` starts a rollback drill (src/core/drill.ts); `GET` reports the
 * running or last one: whether and how fast analysis took the canary back, how many requests the
 * gateway faulted, and that stable kept serving.
 */

import { type Access, operate, READ } from '../auth/roles.ts';
import { parseDrillFault } from '../config/drill-fault.ts';
import { tryParseDuration } from '../config/duration.ts';
import type { ServiceConfig } from '../config/types.ts';
import type { Controller } from '../controller/controller.ts';
import { DRILL_DEFAULTS, describeFault } from '../core/drill.ts';
import type { AnalysisSummary, CanaryRollout } from '../core/model.ts';
import type { StatsReport } from '../gateway/protocol.ts';
import type { Handler } from './body.ts';
import { onlyKeys, readJson } from './body.ts';
import { ApiError } from './errors.ts';

/** Same shape as the control API's routes (routes.ts): method, path pattern, handler, access. */
export type DrillRoute = [string, RegExp, Handler, Access];

export interface DrillReport {
  service: string;
  /** The drill's canary revision (a copy of `stable`). */
  revision: number;
  stable: number;
  /** The stable revision is the one the drill started from. */
  stableUnchanged: boolean;
  fault: string;
  weight: number;
  timeoutMs: number;
  state: 'running' | 'aborted' | 'notAborted';
  startedAt: number;
  finishedAt?: number;
  /** From the start of the drill to analysis' Failed verdict. */
  timeToAbortMs?: number;
  /** The gateway's counts for the drill revision; null when the gateway did not answer. */
  canary: { requests: number; faulted: { aborted: number; delayed: number } } | null;
  /** Stable's requests and 5xx while the analysis watched (same window as the canary's). */
  stableWindow: { requests: number; errors: number };
  analysis?: AnalysisSummary;
  message?: string;
}

function lastDrill(c: Controller, name: string): CanaryRollout | undefined {
  const s = c.state(name);
  for (const r of [s?.rollout, s?.lastRollout]) if (r?.strategy === 'canary' && r.kind === 'drill') return r;
  return undefined;
}

export function drillReport(c: Controller, name: string, stats: StatsReport | null): DrillReport | undefined {
  const state = c.state(name);
  const r = lastDrill(c, name);
  if (!state || !r?.drill) return undefined;
  const d = r.drill;
  const a = r.analysis;
  const counts = stats?.services[name]?.revisions[String(r.to)];
  const report: DrillReport = {
    service: name,
    revision: r.to,
    stable: state.stable,
    stableUnchanged: state.stable === r.from,
    fault: describeFault(d.fault),
    weight: d.weight,
    timeoutMs: d.timeoutMs,
    state: d.outcome ?? 'running',
    startedAt: r.startedAt,
    canary:
      stats === null
        ? null
        : {
            requests: counts?.requests ?? 0,
            faulted: { aborted: counts?.faults?.aborted ?? 0, delayed: counts?.faults?.delayed ?? 0 },
          },
    stableWindow: { requests: a?.window.stable?.requests ?? 0, errors: a?.window.stable?.errors ?? 0 },
    message: r.message,
  };
  if (r.finishedAt !== undefined) report.finishedAt = r.finishedAt;
  if (d.outcome === 'aborted' && a?.finishedAt !== undefined)
    report.timeToAbortMs = a.finishedAt - r.startedAt;
  const summary = state.revisions.find((x) => x.number === r.to)?.analysis;
  if (summary) report.analysis = summary;
  return report;
}

function readSetting(body: Record<string, unknown>, svc: ServiceConfig) {
  onlyKeys(body, ['fault', 'weight', 'timeout']);
  const fault = parseDrillFault(typeof body.fault === 'string' ? body.fault : DRILL_DEFAULTS.fault);
  if (body.fault !== undefined && typeof body.fault !== 'string') {
    throw new ApiError(400, 'invalid_body', 'fault: must be errors:N% or latency:DURATION');
  }
  if (!fault.ok) throw new ApiError(400, 'invalid_body', `fault: ${fault.error}`);
  const weight = body.weight ?? DRILL_DEFAULTS.weight;
  if (typeof weight !== 'number' || !(weight > 0 && weight <= 100)) {
    throw new ApiError(400, 'invalid_body', 'weight: must be a share of traffic, 0 < weight <= 100');
  }
  const timeout = tryParseDuration(body.timeout ?? DRILL_DEFAULTS.timeout);
  if (!timeout.ok || timeout.ms <= 0) {
    throw new ApiError(400, 'invalid_body', 'timeout: must be a duration like 60s');
  }
  if (svc.analysis === undefined) {
    throw new ApiError(
      409,
      'unsupported',
      `service "${svc.name}" has no analysis: a drill tests that analysis takes a bad canary back (services.${svc.name}.analysis)`,
    );
  }
  return { fault: fault.fault, weight, timeoutMs: timeout.ms };
}

async function statsOrNull(c: Controller): Promise<StatsReport | null> {
  try {
    return await c.trafficStats();
  } catch {
    return null;
  }
}

export function drillRoutes(c: Controller, need: (name: string) => ServiceConfig): DrillRoute[] {
  return [
    [
      'POST',
      /^\/v1\/services\/(?<name>[^/]+)\/drill$/,
      async (req, res, p) => {
        const svc = need(p.name);
        if (c.config.cluster !== undefined) {
          throw new ApiError(
            409,
            'unsupported',
            'drills run on one host; fleet mode (cluster:) does not support them yet',
          );
        }
        const setting = readSetting(await readJson(req), svc);
        const r = c.drill(p.name, setting);
        if (!r.ok) throw new ApiError(409, r.code, r.message);
        res.statusCode = 202;
        return drillReport(c, p.name, null);
      },
      operate('drill'),
    ],
    [
      'GET',
      /^\/v1\/services\/(?<name>[^/]+)\/drill$/,
      async (_q, _s, p) => {
        need(p.name);
        const report = drillReport(c, p.name, await statsOrNull(c));
        if (!report) throw new ApiError(404, 'no_drill', `service "${p.name}" has run no drill`);
        return report;
      },
      READ,
    ],
  ];
}
