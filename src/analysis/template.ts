/** `{{revision}}`, `{{version}}`, `{{service}}`, `{{role}}` in provider queries and URLs. */

import { ANALYSIS_TEMPLATE_VARS } from '../config/analysis.ts';

// The config validator checks queries against the same list.
export const TEMPLATE_VARS = ANALYSIS_TEMPLATE_VARS;
export type TemplateVar = (typeof TEMPLATE_VARS)[number];
export type TemplateVars = Record<TemplateVar, string>;

/**
 * Substitutes the variables, each value passed through `encode` (unknown names are left as they are;
 * validation reports them).
 */
export function renderTemplate(tpl: string, vars: TemplateVars, encode: (v: string) => string): string {
  return tpl.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) =>
    Object.hasOwn(vars, name) ? encode(vars[name as TemplateVar]) : whole,
  );
}

/** Safe inside a PromQL string literal in either quote style. */
export function escapePromQL(v: string): string {
  return v.replace(/[\\'"`]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}
