/**
 * The contract between an exchange (or a mirror copy) and the client of one instance: the HTTP/1.1 pool
 * (h1-upstream.ts) and the HTTP/2 session (h2-upstream.ts) both take requests this way. The callback
 * names follow undici's legacy dispatch handler, which the gateway used before it had its own clients, so
 * error codes keep undici's names too (`UND_ERR_SOCKET`, `UND_ERR_HEADERS_TIMEOUT`, ...).
 */

/** A request as the gateway sends it upstream. */
export interface UpstreamRequest {
  method: string;
  path: string;
  /** Flat [name, value, ...], already stripped of hop-by-hop fields. */
  headers: string[];
  /** null: no body; a Buffer (a mirror copy); a stream (the client's body, or a generator of its chunks). */
  body: Buffer | NodeJS.ReadableStream | AsyncIterable<Buffer> | null;
  /** Wait for the response head; null or absent: the gateway's upstreamTimeout. */
  headersTimeout?: number | null;
  /** Inactivity bound once the response started; absent or 0: none (streams may pause for long). */
  bodyTimeout?: number | null;
}

/** What the gateway implements to receive one response. */
export interface UpstreamHandler {
  /**
   * The request is being written to a connected instance; `abort` ends it (and its connection).
   * `reused`: on a keep-alive connection that carried a request before (which the instance may be closing
   * just now: the exchange retries such a failure), not on a new one.
   */
  onConnect(abort: (err?: Error) => void, reused: boolean): void;
  /** The final response head (1xx heads are not reported). `headers`: flat latin1 [name, value, ...]. */
  onHeaders(statusCode: number, headers: string[], resume: () => void, statusText: string): boolean;
  /** false: stop reading until `resume` is called. */
  onData(chunk: Buffer): boolean;
  /** Trailers as a flat [name, value, ...] list, or null. */
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
}

/** What an upstream's client offers. */
export interface UpstreamDispatcher {
  dispatch(opts: UpstreamRequest, handler: UpstreamHandler): boolean;
  /** No new requests; resolves when the requests in flight have ended. */
  close(): Promise<void>;
  /** Every request in flight fails now. */
  destroy(): Promise<void>;
}

export interface DispatcherSettings {
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamIdleTimeoutMs: number;
}

export function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}
