/**
 * The impure part of an analysis round: read the gateway stats and query the providers, in parallel.
 * The runner (the controller) passes the result to the pure `stepAnalysis` (run.ts).
 */
import type { AnalysisConfig } from '../../config/types.ts';
import type { TrafficSample } from '../counts.ts';
import { isGatewayMetric } from '../engine.ts';
import type { Measurements, ProviderOutcome } from '../run.ts';
import type { TemplateVars } from '../template.ts';
import { queryPrometheus } from './prometheus.ts';
import { queryWeb } from './web.ts';

export interface MeasureContext {
  /** Template variables of the revision under analysis. */
  vars: TemplateVars;
  /** Reads the gateway counters (e.g. `trafficSample(await gateway.stats(), ...)`); may throw. */
  traffic?: () => Promise<TrafficSample>;
  signal?: AbortSignal;
}

export async function collectMeasurements(cfg: AnalysisConfig, ctx: MeasureContext): Promise<Measurements> {
  const values: Record<string, ProviderOutcome> = {};
  const jobs: Promise<void>[] = [];
  const out: Measurements = { values };
  if (cfg.metrics.some(isGatewayMetric)) {
    const read = ctx.traffic;
    jobs.push(
      (async () => {
        if (!read) {
          out.traffic = { error: 'no gateway stats source' };
          return;
        }
        try {
          out.traffic = await read();
        } catch (e) {
          out.traffic = { error: e instanceof Error ? e.message : String(e) };
        }
      })(),
    );
  }
  for (const m of cfg.metrics) {
    if (m.type !== 'prometheus' && m.type !== 'web') continue;
    const q =
      m.type === 'prometheus' ? queryPrometheus(m, ctx.vars, ctx.signal) : queryWeb(m, ctx.vars, ctx.signal);
    jobs.push(
      q.then(
        (r) => {
          values[m.name] = r;
        },
        (e: unknown) => {
          values[m.name] = { ok: false, error: e instanceof Error ? e.message : String(e) };
        },
      ),
    );
  }
  await Promise.all(jobs);
  return out;
}
