/**
 * The gateway's per-request access log (`GatewaySettings.accessLog`): one JSON line per sampled request,
 * appended by each worker to the same file. Lines are queued on a file stream opened with O_APPEND, which
 * writes whole buffered batches with one writev, so lines of different workers never interleave. The
 * request path never waits: when more than MAX_PENDING_BYTES are queued, lines are dropped and counted.
 */
import type { WriteStream } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { nodeFs, nodePath } from '../util/builtins.ts';
import type { AccessLogSettings, GatewaySettings } from './protocol.ts';

const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export interface AccessRecord {
  service: string | null;
  revision: number | null;
  instance: string | null;
  method: string;
  path: string;
  /** 0 when no response head was sent. */
  status: number;
  durationMs: number;
  bytes: number;
  requestId: string | undefined;
  traceparent: string | undefined;
}

/** Where the access log goes: `accessLog.file`, else `logs/access.log` beside the admin socket. */
export function accessLogFile(settings: GatewaySettings): string {
  return (
    settings.accessLog?.file ?? nodePath.join(nodePath.dirname(settings.adminSocket), 'logs', 'access.log')
  );
}

export class AccessLog {
  /** 0..1: share of requests logged. */
  readonly sample: number;
  readonly file: string;
  dropped = 0;
  written = 0;
  #stream: WriteStream | null;
  #logger: Logger;

  constructor(file: string, settings: AccessLogSettings, logger: Logger) {
    const s = settings.sample ?? 1;
    this.sample = Number.isFinite(s) ? Math.min(1, Math.max(0, s)) : 1;
    this.file = file;
    this.#logger = logger;
    nodeFs.mkdirSync(nodePath.dirname(file), { recursive: true });
    const stream = nodeFs.createWriteStream(file, { flags: 'a' });
    stream.on('error', (err) => {
      if (this.#stream === null) return;
      this.#stream = null;
      logger.error('access log disabled: cannot write', { file, error: err });
    });
    this.#stream = stream;
  }

  /** Null when the settings leave the access log off. */
  static fromSettings(settings: GatewaySettings, logger: Logger): AccessLog | null {
    const a = settings.accessLog;
    if (a === undefined || !a.enabled || (a.sample ?? 1) <= 0) return null;
    return new AccessLog(accessLogFile(settings), a, logger);
  }

  /** Whether this request should be logged (call before building the record). */
  sampled(): boolean {
    return this.sample >= 1 || Math.random() < this.sample;
  }

  write(r: AccessRecord): void {
    const stream = this.#stream;
    if (stream === null) return;
    if (stream.writableLength > MAX_PENDING_BYTES) {
      if (this.dropped++ === 0)
        this.#logger.warn('access log cannot keep up: dropping lines', { file: this.file });
      return;
    }
    const line = JSON.stringify({
      time: new Date().toISOString(),
      service: r.service,
      revision: r.revision,
      instance: r.instance,
      method: r.method,
      path: r.path,
      status: r.status,
      duration_ms: Math.round(r.durationMs * 1000) / 1000,
      bytes: r.bytes,
      request_id: r.requestId ?? null,
      traceparent: r.traceparent ?? null,
    });
    stream.write(`${line}\n`);
    this.written++;
  }

  /** Flushes queued lines and closes the file. */
  close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = null;
    if (stream === null) return Promise.resolve();
    return new Promise((resolve) => stream.end(resolve));
  }
}
