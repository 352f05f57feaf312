/** Exit codes (documented in the README). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;
