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
