/** The placeholders Cutover substitutes in `run.command` and `run.env` values. */
export const TEMPLATE_VARS = ['PORT', 'VERSION', 'INSTANCE', 'SERVICE', 'REVISION'] as const;

export type TemplateVar = (typeof TEMPLATE_VARS)[number];

const KNOWN = new Set<string>(TEMPLATE_VARS);
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` for the `known` names (default: PORT, VERSION, INSTANCE, SERVICE, REVISION)
 * that are present in `vars`. Everything else — unknown names such as `${HOME}`, known names not
 * given in `vars`, `$NAME` without braces — is left untouched (for the shell, or a later
 * substitution pass). Substituted values are not rescanned.
 */
export function substitute(
  template: string,
  vars: Partial<Record<string, string>>,
  known: ReadonlySet<string> = KNOWN,
): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (!known.has(name)) return whole;
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    return value === undefined ? whole : value;
  });
}

/** Applies `substitute` to a RunSpec-like pair of command and env (returns new objects). */
export function substituteRun<T extends { command: string; env: Record<string, string> }>(
  run: T,
  vars: Partial<Record<string, string>>,
): T {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(run.env)) env[k] = substitute(v, vars);
  return { ...run, command: substitute(run.command, vars), env };
}
