/**
 * POSTs JSON to etcd's gRPC gateway with failover: endpoints are tried in turn starting with the last
 * one that answered, and once more round, on failures that are not answers (refused/reset connections,
 * timeouts, 503 such as "etcdserver: no leader"). Errors etcd answers are thrown as EtcdError. With a
 * username it authenticates first and again when etcd calls the token invalid (expired).
 */
import { Agent, type Dispatcher, request } from 'undici';
import { errorText } from '../../util/error-text.ts';
import {
  type EndpointFailure,
  EtcdError,
  EtcdUnavailableError,
  GRPC_UNAUTHENTICATED,
  GRPC_UNAVAILABLE,
} from './errors.ts';
import type { EtcdOptions } from './types.ts';

export const DEFAULT_REQUEST_TIMEOUT_MS = 2000;
/** Rounds over all endpoints before a request gives up. */
const ROUNDS = 2;
/**
 * Asks members to refuse requests while they have no raft leader (gRPC metadata `hasleader`), so a
 * member cut off from quorum answers "no leader" at once instead of letting the request hang.
 */
const REQUIRE_LEADER_HEADER = 'grpc-metadata-hasleader';
const AUTHENTICATE_PATH = '/v3/auth/authenticate';

type Attempt = { ok: true; body: unknown } | { ok: false; reason: string };

function parseEndpoints(endpoints: unknown): string[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0)
    throw new TypeError('etcd endpoints: need at least one URL, e.g. http://127.0.0.1:2379');
  return endpoints.map((e, i) => {
    let url: URL;
    try {
      url = new URL(String(e));
    } catch {
      throw new TypeError(
        `etcd endpoints[${i}]: must be an http:// or https:// URL, got ${JSON.stringify(e)}`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(
        `etcd endpoints[${i}]: must be an http:// or https:// URL, got ${JSON.stringify(e)}`,
      );
    return url.origin;
  });
}

export class Transport {
  readonly endpoints: string[];
  readonly timeoutMs: number;
  private readonly agent: Agent;
  private readonly username?: string;
  private readonly password?: string;
  private preferred = 0;
  private token?: string;
  private authenticating?: Promise<string>;

  constructor(opts: EtcdOptions) {
    this.endpoints = parseEndpoints(opts?.endpoints);
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0)
      throw new TypeError(`etcd requestTimeoutMs: must be a positive number, got ${opts.requestTimeoutMs}`);
    if ((opts.username === undefined) !== (opts.password === undefined))
      throw new TypeError('etcd auth: username and password go together');
    this.username = opts.username;
    this.password = opts.password;
    const tls = opts.tls ?? {};
    this.agent = new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } });
  }

  /** Endpoints in the order to try them: the last one that answered first. */
  order(): string[] {
    const n = this.endpoints.length;
    return Array.from({ length: n }, (_, i) => this.endpoints[(this.preferred + i) % n]);
  }

  /** Marks the endpoint that answered, to start there next time. */
  answered(endpoint: string): void {
    const i = this.endpoints.indexOf(endpoint);
    if (i >= 0) this.preferred = i;
  }

  /** One request with failover; the parsed JSON answer. */
  async call(path: string, body: unknown): Promise<unknown> {
    const failures = new Map<string, string>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const endpoint of this.order()) {
        const r = await this.attemptWithAuth(endpoint, path, body);
        if (r.ok) {
          this.answered(endpoint);
          return r.body;
        }
        failures.delete(endpoint);
        failures.set(endpoint, r.reason);
      }
    }
    const list: EndpointFailure[] = this.endpoints
      .filter((e) => failures.has(e))
      .map((endpoint) => ({ endpoint, reason: failures.get(endpoint)! }));
    throw new EtcdUnavailableError(list);
  }

  /** Headers for a request (the auth token when auth is on), authenticating if needed. */
  async headers(): Promise<Record<string, string>> {
    const h: Record<string, string> = { 'content-type': 'application/json', [REQUIRE_LEADER_HEADER]: 'true' };
    if (this.username !== undefined) h.authorization = await this.authToken();
    return h;
  }

  /** Forgets the token (etcd called it invalid) so the next request authenticates again. */
  invalidateToken(token: string): void {
    if (this.token === token) this.token = undefined;
  }

  /**
   * A streaming request to one endpoint (watch): the response, whose body the caller reads, and the
   * auth token it carried (for invalidateToken when the stream is refused).
   */
  async stream(
    endpoint: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<{ res: Dispatcher.ResponseData; token?: string }> {
    const headers = await this.headers();
    const res = await request(`${endpoint}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      dispatcher: this.agent,
      signal,
      headersTimeout: this.timeoutMs,
      bodyTimeout: 0,
    });
    if (res.statusCode === 401 && headers.authorization !== undefined)
      this.invalidateToken(headers.authorization);
    return { res, token: headers.authorization };
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private async authToken(): Promise<string> {
    if (this.token !== undefined) return this.token;
    this.authenticating ??= this.call(AUTHENTICATE_PATH, { name: this.username, password: this.password })
      .then((a) => {
        const token = (a as { token?: unknown }).token;
        if (typeof token !== 'string' || token === '')
          throw new Error('etcd auth: authenticate answered without a token (is auth enabled?)');
        this.token = token;
        return token;
      })
      .finally(() => {
        this.authenticating = undefined;
      });
    return this.authenticating;
  }

  private async attemptWithAuth(endpoint: string, path: string, body: unknown): Promise<Attempt> {
    const authed = this.username !== undefined && path !== AUTHENTICATE_PATH;
    const headers = authed
      ? await this.headers()
      : { 'content-type': 'application/json', [REQUIRE_LEADER_HEADER]: 'true' };
    try {
      return await this.attempt(endpoint, path, body, headers);
    } catch (err) {
      // An expired token: authenticate again once and repeat on the same endpoint.
      if (authed && err instanceof EtcdError && err.code === GRPC_UNAUTHENTICATED) {
        this.invalidateToken(headers.authorization);
        return this.attempt(endpoint, path, body, await this.headers());
      }
      throw err;
    }
  }

  private async attempt(
    endpoint: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<Attempt> {
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await request(`${endpoint}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        dispatcher: this.agent,
        signal: ac.signal,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      return { ok: false, reason: timedOut ? `timeout after ${this.timeoutMs} ms` : errorText(err) };
    } finally {
      clearTimeout(timer);
    }
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      if (status >= 500) return { ok: false, reason: `${status} ${text.slice(0, 200)}` };
      throw new EtcdError(`${path}: HTTP ${status}, not JSON: ${text.slice(0, 200)}`, 0, endpoint);
    }
    if (status === 200) return { ok: true, body: answer };
    const e = (answer ?? {}) as { message?: unknown; error?: unknown; code?: unknown };
    const message = String(e.message ?? e.error ?? `HTTP ${status}`);
    const code = typeof e.code === 'number' ? e.code : 0;
    if (status === 503 || code === GRPC_UNAVAILABLE) return { ok: false, reason: `${status} ${message}` };
    throw new EtcdError(`${path}: ${message}`, code, endpoint);
  }
}
