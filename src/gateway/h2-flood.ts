/**
 * A per-connection budget for the HTTP/2 control frames a client may make the gateway answer (PING and
 * SETTINGS, each owed an ACK): a token bucket, generous for real clients (they send one SETTINGS and a
 * keepalive PING now and then; gRPC clients a BDP ping per window update at most) and exhausted within
 * a second by a flood. nghttp2 only stops a flood once its unsent ACKs pile up, which a client that
 * reads them never lets happen: it costs a worker a full core for as long as it goes on.
 */

/** Control frames a client may send in a burst. */
export const CONTROL_FRAME_BURST = 1000;
/** Control frames per second a client may keep sending once its burst is spent. */
export const CONTROL_FRAME_RATE = 100;

export class ControlFrameBudget {
  #tokens = CONTROL_FRAME_BURST;
  #at: number;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.#at = now();
  }

  /** Counts one frame; false once the client has gone over its budget. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(
      CONTROL_FRAME_BURST,
      this.#tokens + ((now - this.#at) * CONTROL_FRAME_RATE) / 1000,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
