/**
 * Resolves after `ms`. For pacing and backoff only: never as synchronisation (wait for the event).
 * `unref`: the wait does not keep the process alive.
 */
export function sleep(ms: number, opts?: { unref?: boolean }): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (opts?.unref) timer.unref();
  });
}
