/**
 * A timer armed again and again for the same wait (a connection's headers timeout, its idle timeout):
 * re-armed with `refresh()`, so arming costs no new timer unless the wait changes. Unref'd: it never keeps
 * a worker alive. It is not disarmed between uses: its callback checks whether what it guards is still
 * pending, so a fire for a request already answered finds nothing to do.
 */
export class RefreshTimer {
  readonly #fire: () => void;
  #timer: NodeJS.Timeout | null = null;
  #ms = 0;

  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** The wait it was last armed with. */
  get ms(): number {
    return this.#ms;
  }

  arm(ms: number): void {
    if (this.#timer !== null && this.#ms === ms) {
      this.#timer.refresh();
      return;
    }
    this.clear();
    this.#ms = ms;
    this.#timer = setTimeout(this.#fire, ms);
    this.#timer.unref();
  }

  clear(): void {
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
  }
}
