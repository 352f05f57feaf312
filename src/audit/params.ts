/**
 * What of a request the audit trail keeps: its JSON body, cut at MAX_PARAMS_BYTES, with the values of
 * secret-looking keys replaced, as canonical JSON (the hash input is then stable).
 */
import { canonicalJson } from './log.ts';

/** Captured request bodies are cut at this many bytes. */
export const MAX_PARAMS_BYTES = 16 * 1024;
export const REDACTED = '[redacted]';
/** Keys (and `KEY=VALUE` settings) whose values never reach the audit trail. */
const SECRET_KEY_RE = /token|secret|passw|pwd|credential|api[_-]?key|private[_-]?key|auth|cookie|session/i;

/** Replaces the values of secret-looking keys (and `run.env.PASSWORD=...` settings) recursively. */
export function redact(v: unknown, depth = 0): unknown {
  if (depth > 32) return REDACTED;
  if (typeof v === 'string') {
    const eq = v.indexOf('=');
    return eq > 0 && SECRET_KEY_RE.test(v.slice(0, eq)) ? `${v.slice(0, eq + 1)}${REDACTED}` : v;
  }
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [
        k,
        SECRET_KEY_RE.test(k) ? REDACTED : redact(x, depth + 1),
      ]),
    );
  }
  return v;
}

/** A request body as audit parameters: parsed JSON with secrets redacted, or a note. */
export function auditParams(body: Buffer, truncated: boolean): string {
  if (body.length === 0) return '{}';
  if (truncated) return canonicalJson({ _unparsed: `body larger than ${MAX_PARAMS_BYTES} bytes` });
  try {
    return canonicalJson(redact(JSON.parse(body.toString('utf8'))));
  } catch {
    return canonicalJson({ _unparsed: `${body.length} bytes, not JSON` });
  }
}
