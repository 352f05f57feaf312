/**
 * Traffic mirroring: a sampled copy of a request served by stable goes to a canary instance, its response
 * read and discarded, only its outcome counted. A mirror never touches the client's exchange.
 */
import type { BodyCopy } from './body.ts';
import type { UpstreamHandler } from './dispatcher.ts';
import type { GatewaySettings } from './protocol.ts';
import { statusClass } from './stats.ts';
import type { Routing } from './table.ts';
import type { ServiceTraffic, Upstream } from './upstream.ts';

/** Mirror requests per worker, from the moment one is planned (its body being buffered) to its end. */
export const MAX_MIRRORS_IN_FLIGHT = 64;

/** What the mirrors need of their worker. */
export interface MirrorHost {
  readonly settings: GatewaySettings;
  readonly routing: Routing;
  readonly draining: boolean;
}

/** The mirror copies of one worker. */
export class Mirrors {
  readonly host: MirrorHost;
  /** Planned or running (bounded by MAX_MIRRORS_IN_FLIGHT). */
  inFlight = 0;

  constructor(host: MirrorHost) {
    this.host = host;
  }

  /**
   * Samples a request served by stable. Returns the plan that must receive its body, or null: not
   * mirrored, or (no body) the copy is already on its way. `contentLength`: the declared length (undefined
   * for a chunked body), parsed only for a sampled request.
   */
  sample(
    traffic: ServiceTraffic,
    method: string,
    path: string,
    headers: string[],
    hasBody: boolean,
    contentLength: string | undefined,
  ): MirrorPlan | null {
    const m = traffic.mirror!;
    if (!(Math.random() * 100 < m.percent) || !m.matches(method, path)) return null;
    const target = traffic.canary.pick(null);
    if (target === null) return null;
    if (this.inFlight >= MAX_MIRRORS_IN_FLIGHT || this.host.draining) {
      target.stats.mirrorSkipped++;
      return null;
    }
    if (!hasBody) {
      this.inFlight++;
      setImmediate(() => this.send(target, method, path, headers, null));
      return null;
    }
    if (Number(contentLength) > m.maxBodyBytes) {
      target.stats.mirrorSkipped++;
      return null;
    }
    this.inFlight++;
    return new MirrorPlan(this, target, method, path, headers, m.maxBodyBytes);
  }

  /** Sends a mirror copy (already counted in inFlight by the caller). Never throws. */
  send(up: Upstream, method: string, path: string, headers: string[], body: Buffer | null): void {
    if (up.retired || this.host.draining) {
      up.stats.mirrorSkipped++;
      this.inFlight--;
      return;
    }
    up.stats.mirrorSent++;
    up.inflight++;
    const handler = new MirrorRequest(this, up);
    const timeout = this.host.settings.upstreamTimeoutMs;
    try {
      up.pool.dispatch(
        {
          method,
          path,
          headers: [...headers, 'x-cutover-mirror', '1'],
          body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        },
        handler,
      );
    } catch {
      handler.end(false);
    }
  }
}

/** A sampled mirror copy whose request body is being buffered. */
export class MirrorPlan implements BodyCopy {
  readonly mirrors: Mirrors;
  readonly target: Upstream;
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly max: number;
  chunks: Buffer[] = [];
  size = 0;
  /** Sent or skipped: the mirror slot is released. */
  settled = false;

  constructor(
    mirrors: Mirrors,
    target: Upstream,
    method: string,
    path: string,
    headers: string[],
    max: number,
  ) {
    this.mirrors = mirrors;
    this.target = target;
    this.method = method;
    this.path = path;
    this.headers = headers;
    this.max = max;
  }

  add(buf: Buffer): void {
    if (this.settled) return;
    this.size += buf.length;
    if (this.size > this.max) this.skip();
    else this.chunks.push(buf);
  }

  bodyDone(): void {
    if (this.settled) return;
    this.settled = true;
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    const mirrors = this.mirrors;
    setImmediate(() => mirrors.send(this.target, this.method, this.path, this.headers, body));
  }

  /** Not mirrored after all (body too large, request ended before its body was read). */
  skip(): void {
    if (this.settled) return;
    this.settled = true;
    this.chunks = [];
    this.target.stats.mirrorSkipped++;
    this.mirrors.inFlight--;
  }
}

/** A mirror request in flight: the response is read and discarded, only its outcome is counted. */
class MirrorRequest implements UpstreamHandler {
  readonly mirrors: Mirrors;
  readonly up: Upstream;
  readonly start = performance.now();
  status = 0;
  done = false;

  constructor(mirrors: Mirrors, up: Upstream) {
    this.mirrors = mirrors;
    this.up = up;
  }

  onConnect(): void {}

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.status = statusCode;
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.end(true);
  }

  onError(): void {
    this.end(false);
  }

  end(ok: boolean): void {
    if (this.done) return;
    this.done = true;
    const up = this.up;
    const s = up.stats;
    if (ok && this.status !== 0) {
      s.mirrorStatus[statusClass(this.status)]++;
      s.mirrorLatencyMsSum += performance.now() - this.start;
      s.mirrorLatencyCount++;
    } else s.mirrorErrors++;
    this.mirrors.inFlight--;
    up.inflight--;
    this.mirrors.host.routing.release(up);
  }
}
