/**
 * Prometheus provider: one instant query (`GET /api/v1/query`) that must yield exactly one number (a
 * scalar, or a vector with one sample). No data, several series, a failed query or an unreachable
 * server are errors (they count toward consecutiveErrorLimit; they never pass).
 */
import type { PrometheusMetric } from '../../config/types.ts';
import type { ProviderOutcome } from '../run.ts';
import { escapePromQL, renderTemplate, type TemplateVars } from '../template.ts';
import { fetchJson } from './http.ts';

export function prometheusQuery(m: PrometheusMetric, vars: TemplateVars): string {
  return renderTemplate(m.query, vars, escapePromQL);
}

export async function queryPrometheus(
  m: PrometheusMetric,
  vars: TemplateVars,
  signal?: AbortSignal,
): Promise<ProviderOutcome> {
  const query = prometheusQuery(m, vars);
  const url = `${m.address}/api/v1/query?query=${encodeURIComponent(query)}`;
  const r = await fetchJson(url, { timeoutMs: m.timeoutMs, signal });
  if (!r.ok) return { ok: false, error: `prometheus ${m.address}: ${r.error}` };
  return parsePrometheusResponse(r.status, r.json);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Exported for tests: the Prometheus HTTP API's JSON -> one value. */
export function parsePrometheusResponse(status: number, json: unknown): ProviderOutcome {
  if (!isRecord(json)) return { ok: false, error: `prometheus: HTTP ${status}, unexpected response` };
  if (json.status !== 'success') {
    const et = typeof json.errorType === 'string' ? `${json.errorType}: ` : '';
    const msg = typeof json.error === 'string' ? json.error : 'query failed';
    return { ok: false, error: `prometheus: HTTP ${status}, ${et}${msg}` };
  }
  const data = json.data;
  if (!isRecord(data)) return { ok: false, error: 'prometheus: response without data' };
  const sample = (v: unknown): ProviderOutcome => {
    if (Array.isArray(v) && v.length === 2 && typeof v[1] === 'string') {
      const n = Number(v[1].replace(/^([-+]?)Inf$/, '$1Infinity'));
      return { ok: true, value: n };
    }
    return { ok: false, error: 'prometheus: malformed sample' };
  };
  switch (data.resultType) {
    case 'scalar':
      return sample(data.result);
    case 'vector': {
      const res = data.result;
      if (!Array.isArray(res)) return { ok: false, error: 'prometheus: malformed vector' };
      if (res.length === 0) return { ok: false, error: 'prometheus: the query returned no data' };
      if (res.length > 1) {
        return {
          ok: false,
          error: `prometheus: the query returned ${res.length} series; aggregate them to one (e.g. sum(...))`,
        };
      }
      const first = res[0];
      return isRecord(first) ? sample(first.value) : { ok: false, error: 'prometheus: malformed vector' };
    }
    default:
      return {
        ok: false,
        error: `prometheus: result type ${String(data.resultType)}; use an instant query that yields one number`,
      };
  }
}
