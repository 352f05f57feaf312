/**
 * A periodic read of something the controller watches (the gateway's certificates, its ejections):
 * `tick` every `intervalMs` on an unref'd timer, never two at once, so a slow read skips a tick
 * instead of piling up. A failing tick is the tick's own business (it catches and retries next time).
 */
export class Poller {
  readonly #intervalMs: number;
  readonly #tick: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(intervalMs: number, tick: () => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#tick = tick;
  }

  start(): void {
    this.#timer = setInterval(() => void this.run(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async run(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.#tick();
    } finally {
      this.#busy = false;
    }
  }
}
