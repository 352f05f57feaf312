import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { loadConfigFile } from '../config/load.ts';
import { readBody } from '../util/http-json.ts';

/** Where the CLI's token comes from: --token, else CUTOVER_TOKEN, else the local admin token file. */
interface Credentials {
  flag?: string;
  configFile?: string;
}
let credentials: Credentials = {};

/** Records the global --token and -c options of the command being run (called by the CLI's parser). */
export function setCredentials(c: Credentials): void {
  credentials = c;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * The token to send to `base`: --token, CUTOVER_TOKEN, or `<dataDir>/admin.token` of the config
 * file (-c, or ./cutover.yaml) — the last only when that config's control.listen is the address
 * talked to, so the local admin token never goes to another controller.
 */
export function resolveToken(base: URL, c: Credentials = credentials): string | undefined {
  if (c.flag) return c.flag.trim();
  const env = process.env.CUTOVER_TOKEN?.trim();
  if (env) return env;
  const file = c.configFile ?? 'cutover.yaml';
  if (!c.configFile && !existsSync(file)) return undefined;
  const r = loadConfigFile(file);
  if (!r.ok) return undefined;
  const l = r.config.control.listen;
  const samePort = String(l.port) === (base.port || '80');
  const sameHost = l.host === base.hostname.replace(/^\[|\]$/g, '') || WILDCARD_HOSTS.has(l.host);
  if (!samePort || !sameHost) return undefined;
  try {
    return readFileSync(path.join(r.config.control.dataDir, 'admin.token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CA to trust for an https controller: CUTOVER_CA (a PEM file), else the certificate of the
 * local config's control.tls (a self-signed certificate is its own CA).
 */
export function resolveCa(c: Credentials = credentials): string | undefined {
  const env = process.env.CUTOVER_CA;
  try {
    if (env) return readFileSync(env, 'utf8');
    const file = c.configFile ?? 'cutover.yaml';
    if (!existsSync(file)) return undefined;
    const r = loadConfigFile(file);
    return r.ok && r.config.control.tls ? readFileSync(r.config.control.tls.cert, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

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

/** A request (or a quiet stream) with no bytes for this long is given up. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Minimal JSON client for the control API. */
export class ControlClient {
  readonly base: URL;
  private token?: string | null;

  /** `token`: sent as `Authorization: Bearer`; by default resolved with resolveToken(). */
  constructor(addr: string, opts: { token?: string } = {}) {
    this.base = new URL(/^https?:\/\//.test(addr) ? addr : `http://${addr}`);
    if (opts.token !== undefined) this.token = opts.token;
  }

  private authorization(): Record<string, string> {
    if (this.token === undefined) this.token = resolveToken(this.base) ?? null;
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private raw(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const url = new URL(path, this.base);
      const request = url.protocol === 'https:' ? https.request : http.request;
      const req = request(
        url,
        {
          method,
          agent: false,
          ca: url.protocol === 'https:' ? resolveCa() : undefined,
          headers: {
            ...headers,
            ...this.authorization(),
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        resolve,
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
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

  /** `timeoutMs`: for requests the controller answers only once something slow is done (a gateway reload). */
  async json<T>(method: string, path: string, body?: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const res = await this.raw(method, path, body, {}, timeoutMs);
    const text = await readBody(res, Number.POSITIVE_INFINITY);
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
      throw new ApiResponseError(
        res.statusCode ?? 500,
        e?.code ?? 'error',
        this.explain(res, e?.message ?? text),
      );
    }
    // A saved change the gateway has not taken yet (src/api/route-push.ts): say so, it is not an error.
    const pending = (data as { routesPending?: unknown } | null)?.routesPending;
    if (typeof pending === 'string') process.stderr.write(`warning: ${pending}\n`);
    return data as T;
  }

  /** Adds how to pass a token to a 401's message. */
  private explain(res: http.IncomingMessage, message: string): string {
    if (res.statusCode !== 401) return message;
    return `${message} (pass --token TOKEN or set CUTOVER_TOKEN; on the controller's host, -c FILE uses the admin token in its dataDir)`;
  }

  /**
   * Opens a streamed GET (logs, server-sent events) and resolves with the response once its status
   * is known; a 4xx/5xx is thrown as an ApiResponseError. `idleTimeoutMs` replaces the request
   * timeout once the response has begun (a stream may rightly be quiet for a while).
   */
  async open(
    path: string,
    opts: { headers?: Record<string, string>; idleTimeoutMs?: number } = {},
  ): Promise<http.IncomingMessage> {
    const res = await this.raw('GET', path, undefined, opts.headers);
    if ((res.statusCode ?? 500) >= 400) {
      const text = await readBody(res, Number.POSITIVE_INFINITY);
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {}
      throw new ApiResponseError(res.statusCode ?? 500, 'error', this.explain(res, msg));
    }
    if (opts.idleTimeoutMs !== undefined) res.socket.setTimeout(opts.idleTimeoutMs);
    return res;
  }

  /** Streams a text response to `out` (logs). */
  async stream(path: string, out: NodeJS.WritableStream): Promise<void> {
    const res = await this.open(path);
    for await (const c of res) out.write(c as Buffer);
  }
}
