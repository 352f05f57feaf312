import http from 'node:http';

/** The controller could not be reached (exit code 3). */
export class UnreachableError extends Error {}

/** A refusal or failure reported by the control API. */
export class ApiResponseError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Minimal JSON client for the control API. */
export class ControlClient {
  readonly base: URL;

  constructor(addr: string) {
    this.base = new URL(/^https?:\/\//.test(addr) ? addr : `http://${addr}`);
  }

  private raw(method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        new URL(path, this.base),
        {
          method,
          agent: false,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        resolve,
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          new UnreachableError(
            `cannot reach the Cutover controller at ${this.base.host} (${err.code ?? err.message}); is \`cutover up\` running? (set -c FILE or CUTOVER_ADDR)`,
          ),
        ),
      );
      req.end(payload);
    });
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiResponseError(
        res.statusCode ?? 500,
        'invalid_response',
        `unexpected response: ${text.slice(0, 200)}`,
      );
    }
    if ((res.statusCode ?? 500) >= 400) {
      const e = (data as { error?: { code?: string; message?: string } }).error;
      throw new ApiResponseError(res.statusCode ?? 500, e?.code ?? 'error', e?.message ?? text);
    }
    return data as T;
  }

  /** Streams a text response to `out` (logs). */
  async stream(path: string, out: NodeJS.WritableStream): Promise<void> {
    const res = await this.raw('GET', path);
    if ((res.statusCode ?? 500) >= 400) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {}
      throw new ApiResponseError(res.statusCode ?? 500, 'error', msg);
    }
    for await (const c of res) out.write(c as Buffer);
  }
}
