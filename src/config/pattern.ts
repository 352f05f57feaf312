/**
 * Regular expressions from traffic rules (`regex` matches, `userAgent`). Self-contained (no other
 * imports) so the gateway can compile the rules it receives with exactly the checks the config
 * loader applied.
 *
 * Syntax is JavaScript's (no `u` flag). A leading `(?i)` makes the pattern case-insensitive.
 * Patterns that can backtrack catastrophically (exponential time on a crafted header) are
 * rejected: a repeated group that itself contains a variable-length quantifier (`(a+)+`,
 * `(a*)*`, `(.*)*`, `(\w+\s?)+`, `(a?){2,}`), or a repeated group whose alternatives can start
 * with the same character (`(a|aa)+`, `(\w|\d)*`). The check is conservative: it may reject some
 * safe patterns (`(ab+c)+`), never the plain ones rules are made of (`^beta`, `(?i)iphone|android`).
 */

/** Longest accepted pattern source, in characters (including a leading `(?i)`). */
export const MAX_PATTERN_LENGTH = 256;

export type PatternResult = { ok: true; re: RegExp } | { ok: false; message: string };

export const CATASTROPHIC_MESSAGE = 'nested quantifier can backtrack catastrophically';

export function compilePattern(src: string): PatternResult {
  if (typeof src !== 'string') return { ok: false, message: 'must be a string (a regular expression)' };
  if (src.length > MAX_PATTERN_LENGTH) {
    return {
      ok: false,
      message: `regular expression is too long (${src.length} > ${MAX_PATTERN_LENGTH} characters)`,
    };
  }
  let body = src;
  let flags = '';
  if (body.startsWith('(?i)')) {
    body = body.slice(4);
    flags = 'i';
  }
  if (body === '') return { ok: false, message: 'regular expression must not be empty' };
  let re: RegExp;
  try {
    re = new RegExp(body, flags);
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(
      /^Invalid regular expression: \/.*\/[a-z]*: /s,
      '',
    );
    const inline = /\(\?[a-z]+\)/.test(body) ? ' (inline flags: only a leading "(?i)" is supported)' : '';
    return { ok: false, message: `invalid regular expression: ${why}${inline}` };
  }
  const risky = findCatastrophic(body, flags);
  if (risky !== undefined) {
    return {
      ok: false,
      message: `${CATASTROPHIC_MESSAGE}: "${risky}" (don't repeat a group that itself repeats or has alternatives starting alike)`,
    };
  }
  return { ok: true, re };
}

// ---------------------------------------------------------------------------------------------
// A minimal parser of (already valid) JavaScript regex syntax, just enough for the check.

interface Quant {
  min: number;
  max: number;
}

type Term =
  | { kind: 'atom'; text: string; zeroWidth: boolean; q: Quant; start: number; end: number }
  | { kind: 'group'; alts: Term[][]; lookaround: boolean; q: Quant; start: number; end: number };

const ONE: Quant = { min: 1, max: 1 };

function parse(src: string): Term[][] {
  let pos = 0;
  const parseAlts = (): Term[][] => {
    const alts: Term[][] = [[]];
    while (pos < src.length) {
      const c = src[pos];
      if (c === ')') return alts;
      if (c === '|') {
        pos++;
        alts.push([]);
        continue;
      }
      const start = pos;
      let term: Term;
      if (c === '(') {
        pos++;
        let lookaround = false;
        if (src[pos] === '?') {
          const m = /^\?(?:<[=!]|[=!]|<[A-Za-z_$][\w$]*>|[a-z]*(?:-[a-z]+)?:)/.exec(src.slice(pos));
          const head = m ? m[0] : '?';
          lookaround = /^\?<?[=!]/.test(head);
          pos += head.length;
        }
        const alts = parseAlts();
        pos++; // ')'
        term = { kind: 'group', alts, lookaround, q: ONE, start, end: pos };
      } else {
        let zeroWidth = false;
        if (c === '\\') {
          const m =
            /^\\(?:[pP]\{[^}]*\}|x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|c[A-Za-z]|k<[^>]*>|\d+|[\s\S])/.exec(
              src.slice(pos),
            );
          pos += m ? m[0].length : 1;
          zeroWidth = /^\\[bB]$/.test(src.slice(start, pos));
        } else if (c === '[') {
          pos++;
          if (src[pos] === '^') pos++;
          while (pos < src.length && src[pos] !== ']') pos += src[pos] === '\\' ? 2 : 1;
          pos++; // ']'
        } else {
          pos++;
          zeroWidth = c === '^' || c === '$';
        }
        term = { kind: 'atom', text: src.slice(start, pos), zeroWidth, q: ONE, start, end: pos };
      }
      const q = /^(?:\*|\+|\?|\{(\d+)(?:(,)(\d*))?\})\??/.exec(src.slice(pos));
      if (q) {
        const s = q[0][0];
        let quant: Quant;
        if (s === '*') quant = { min: 0, max: Number.POSITIVE_INFINITY };
        else if (s === '+') quant = { min: 1, max: Number.POSITIVE_INFINITY };
        else if (s === '?') quant = { min: 0, max: 1 };
        else {
          const min = Number(q[1]);
          const max = q[2] === undefined ? min : q[3] === '' ? Number.POSITIVE_INFINITY : Number(q[3]);
          quant = { min, max };
        }
        pos += q[0].length;
        term = { ...term, q: quant, end: pos };
      }
      alts[alts.length - 1].push(term);
    }
    return alts;
  };
  const alts = parseAlts();
  return alts;
}

const variable = (q: Quant): boolean => q.max !== q.min;
const repeats = (q: Quant): boolean => q.max > 1;

function containsVariable(alts: Term[][]): boolean {
  for (const seq of alts) {
    for (const t of seq) {
      if (variable(t.q)) return true;
      if (t.kind === 'group' && containsVariable(t.alts)) return true;
    }
  }
  return false;
}

// First-character sets, as bitmaps over ASCII plus a few non-ASCII samples.
const SAMPLES: string[] = [
  ...Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)),
  '\u00e9',
  '\u00a0',
  '\u2028',
  '\u4e2d',
  '\ud83d',
];
type CharSet = boolean[];
const ALL: CharSet = SAMPLES.map(() => true);
const NONE: CharSet = SAMPLES.map(() => false);

function atomSet(text: string, flags: string): CharSet {
  if (text === '.') return ALL;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${text})$`, flags);
  } catch {
    return ALL;
  }
  return SAMPLES.map((c) => re.test(c));
}

const union = (a: CharSet, b: CharSet): CharSet => a.map((x, i) => x || b[i]);

/** Characters an alternative can start with (over-approximated). */
function firstSet(seq: Term[], flags: string): CharSet {
  for (const t of seq) {
    if (t.kind === 'atom' && t.zeroWidth) continue;
    if (t.kind === 'group' && t.lookaround) continue;
    if (t.q.min === 0) return ALL; // optional: the next term could start it too; don't bother
    if (t.kind === 'atom') return atomSet(t.text, flags);
    let set = NONE;
    for (const alt of t.alts) set = union(set, firstSet(alt, flags));
    return set;
  }
  return NONE; // empty alternative
}

function alternativesOverlap(alts: Term[][], flags: string): boolean {
  if (alts.length < 2) return false;
  const sets = alts.map((a) => firstSet(a, flags));
  for (let i = 0; i < sets.length; i++) {
    for (let j = i + 1; j < sets.length; j++) {
      if (sets[i].some((x, k) => x && sets[j][k])) return true;
    }
  }
  return false;
}

/** Source text of the first risky repeated group, or undefined. */
function findCatastrophic(src: string, flags: string): string | undefined {
  const visit = (alts: Term[][]): string | undefined => {
    for (const seq of alts) {
      for (const t of seq) {
        if (t.kind !== 'group') continue;
        if (repeats(t.q) && (containsVariable(t.alts) || alternativesOverlap(t.alts, flags))) {
          return src.slice(t.start, t.end);
        }
        const inner = visit(t.alts);
        if (inner !== undefined) return inner;
      }
    }
    return undefined;
  };
  return visit(parse(src));
}
