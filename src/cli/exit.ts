/** Exit codes (documented in the README). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** Bad usage: the CLI prints the message (with the command's help when it carries it) and exits 2. */
export class UsageError extends Error {}
