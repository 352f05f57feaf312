/**
 * How long a leader may trust its lease locally. etcd renews a lease when the keepalive arrives, which
 * is after it was sent, so a lease renewed by a keepalive sent at `sentAt` with `ttlSeconds` left lives
 * at least until sentAt + ttl on etcd's side. The leader stops trusting it a safety margin earlier, to
 * cover clock-rate drift between the hosts: it gives up before anyone else can be elected.
 */

/** Share of the TTL given up as a safety margin. */
export const SAFETY_MARGIN_FRACTION = 0.25;
/** Share of the TTL between keepalives: three chances to renew before the lease lapses. */
export const KEEPALIVE_FRACTION = 1 / 3;

/** The last moment (ms since the epoch) a leader may consider itself leader on this renewal. */
export function localLeaseDeadline(sentAtMs: number, ttlSeconds: number): number {
  if (ttlSeconds <= 0) return sentAtMs;
  const ttlMs = ttlSeconds * 1000;
  return sentAtMs + ttlMs - ttlMs * SAFETY_MARGIN_FRACTION;
}

/** Milliseconds between keepalives for a lease of `ttlSeconds`. */
export function keepAliveIntervalMs(ttlSeconds: number): number {
  return Math.max(1, Math.floor(ttlSeconds * 1000 * KEEPALIVE_FRACTION));
}
