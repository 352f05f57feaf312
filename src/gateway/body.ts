/** The request body as sent upstream: streamed with backpressure, cut at the limit, copied for a mirror. */
import type { Readable } from 'node:stream';

const BODY_TOO_LARGE = Object.assign(new Error('request body too large'), {
  code: 'CUTOVER_BODY_TOO_LARGE',
});

/** What the body stream reads and marks on its exchange. */
export interface BodyOwner {
  /** The client request (HTTP/1.x or HTTP/2), read as a stream. */
  readonly req: Readable;
  readonly chunked: boolean;
  /** The gateway's maxBodyBytes. */
  readonly maxBodyBytes: number;
  bodyStarted: boolean;
  bodyTooLarge: boolean;
}

/** Receives a copy of the body (a mirror plan); skipped when the body turns out too large. */
export interface BodyCopy {
  add(buf: Buffer): void;
  bodyDone(): void;
  skip(): void;
}

/**
 * The body streamed as-is. A body of unknown length (chunked) is cut at maxBodyBytes; a declared length
 * was checked before the request was routed. `copy` (a mirror) gets every chunk too.
 */
export async function* streamBody(ex: BodyOwner, copy: BodyCopy | null): AsyncGenerator<Buffer> {
  ex.bodyStarted = true;
  const limit = ex.chunked ? ex.maxBodyBytes : Number.POSITIVE_INFINITY;
  let total = 0;
  for await (const chunk of ex.req.iterator({ destroyOnReturn: false })) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      ex.bodyTooLarge = true;
      copy?.skip();
      throw BODY_TOO_LARGE;
    }
    copy?.add(buf);
    yield buf;
  }
  copy?.bodyDone();
}

/** The largest request body kept for a replay (ReplayCopy). */
export const REPLAY_MAX_BYTES = 64 * 1024;

/**
 * A copy of a body kept for one more try (`next`, a mirror plan, gets every chunk too): an HTTP/2
 * instance that refuses a stream (REFUSED_STREAM) has processed none of it, but the bytes were already
 * read from the client. Only bodies up to `max` bytes are kept; a larger one cannot be replayed.
 */
export class ReplayCopy implements BodyCopy {
  readonly max: number;
  next: BodyCopy | null = null;
  #chunks: Buffer[] = [];
  #size = 0;
  #overflow = false;
  /** The whole body is here (it ended within `max`). */
  complete = false;

  constructor(max: number) {
    this.max = max;
  }

  add(buf: Buffer): void {
    this.next?.add(buf);
    if (this.#overflow) return;
    this.#size += buf.length;
    if (this.#size > this.max) {
      this.#overflow = true;
      this.#chunks = [];
    } else this.#chunks.push(buf);
  }

  bodyDone(): void {
    this.next?.bodyDone();
    this.complete = !this.#overflow;
  }

  skip(): void {
    this.next?.skip();
    this.#overflow = true;
    this.#chunks = [];
  }

  /** The body as one buffer (only when complete). */
  buffer(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }
}
