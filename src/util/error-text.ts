/**
 * A short reason for a failed request or spawn: the errno-style code ("ECONNREFUSED", "ENOENT")
 * when there is one — looking through fetch's `cause` chain and AggregateErrors — else the message.
 */
export function errorText(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = (errors[0] as { code?: unknown }).code;
      if (typeof inner === 'string') return inner;
    }
    const cause = (e as { cause?: unknown }).cause;
    if (!cause) break;
    e = cause;
  }
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && err.message === 'fetch failed') return cause.message;
    return err.message;
  }
  return String(err);
}
