/** The `jsonPath` of a web analysis metric: parsed when the config is validated and when the answer is read. */
import { describe } from './ctx.ts';

export type JsonPathStep = string | number;

/** `$`, `$.a.b`, `$.a[0]`, `$['a-b']`, `$["a"]` -> steps; nothing fancier (no filters, no wildcards). */
export function parseJsonPath(p: string): { ok: true; steps: JsonPathStep[] } | { ok: false; error: string } {
  const bad = (why: string) => ({
    ok: false as const,
    error: `must be a JSON path like $.a.b[0] or $['key'] (${why}), ${describe(p)}`,
  });
  if (!p.startsWith('$')) return bad('it starts with $');
  const steps: JsonPathStep[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  let pos = 1;
  while (pos < p.length) {
    re.lastIndex = pos;
    const m = re.exec(p);
    if (!m) return bad(`unexpected ${JSON.stringify(p.slice(pos, pos + 10))}`);
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else steps.push((m[3] ?? m[4]).replace(/\\(.)/g, '$1'));
    pos = re.lastIndex;
  }
  return { ok: true, steps };
}
