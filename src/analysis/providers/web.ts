/**
 * Web provider: GET (or POST) a URL, pick a value out of the JSON answer with `jsonPath`. A non-2xx
 * status, a timeout, a body that is not JSON or a path that does not exist are errors.
 */

import { type JsonPathStep, parseJsonPath } from '../../config/json-path.ts';
import type { WebMetric } from '../../config/types.ts';
import type { ProviderOutcome } from '../run.ts';
import { renderTemplate, type TemplateVars } from '../template.ts';
import { fetchJson } from './http.ts';

export function webUrl(m: WebMetric, vars: TemplateVars): string {
  return renderTemplate(m.url, vars, encodeURIComponent);
}

export async function queryWeb(
  m: WebMetric,
  vars: TemplateVars,
  signal?: AbortSignal,
): Promise<ProviderOutcome> {
  const path = parseJsonPath(m.jsonPath);
  if (!path.ok) return { ok: false, error: `jsonPath ${path.error}` };
  const url = webUrl(m, vars);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers)) headers[k] = renderTemplate(v, vars, (s) => s);
  const r = await fetchJson(url, { method: m.method, headers, timeoutMs: m.timeoutMs, signal });
  if (!r.ok) return { ok: false, error: `${m.method} ${url}: ${r.error}` };
  if (r.status < 200 || r.status > 299) return { ok: false, error: `${m.method} ${url}: HTTP ${r.status}` };
  const v = pick(r.json, path.steps);
  if (!v.found) return { ok: false, error: `${m.jsonPath} not found in the response` };
  return { ok: true, value: v.value };
}

export function pick(json: unknown, steps: readonly JsonPathStep[]): { found: boolean; value?: unknown } {
  let cur: unknown = json;
  for (const s of steps) {
    if (typeof s === 'number') {
      if (!Array.isArray(cur) || s >= cur.length) return { found: false };
      cur = cur[s];
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, s)) {
        return { found: false };
      }
      cur = (cur as Record<string, unknown>)[s];
    }
  }
  return { found: true, value: cur };
}
