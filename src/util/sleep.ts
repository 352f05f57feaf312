/** Resolves after `ms`. For pacing and backoff only: never as synchronisation (wait for the event). */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}
