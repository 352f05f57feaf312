/** A bounded HTTP GET/POST returning parsed JSON, for the providers. */

export interface FetchJsonOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborts the request early (e.g. the analysis was cancelled). */
  signal?: AbortSignal;
  /** Largest response body read (default 1 MiB). */
  maxBytes?: number;
}

export type FetchJsonResult = { ok: true; status: number; json: unknown } | { ok: false; error: string };

export async function fetchJson(url: string, o: FetchJsonOptions): Promise<FetchJsonResult> {
  const max = o.maxBytes ?? 1 << 20;
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, {
      method: o.method ?? 'GET',
      headers: { accept: 'application/json', ...o.headers },
      body: o.body,
      signal,
      redirect: 'error',
    });
  } catch (e) {
    return { ok: false, error: describeFetchError(e, timeout, o.timeoutMs) };
  }
  let text: string;
  try {
    text = await readLimited(res, max);
  } catch (e) {
    return {
      ok: false,
      error: `HTTP ${res.status}, reading the body: ${describeFetchError(e, timeout, o.timeoutMs)}`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const snippet = text.slice(0, 120).replace(/\s+/g, ' ');
    return { ok: false, error: `HTTP ${res.status}, not JSON: ${JSON.stringify(snippet)}` };
  }
  return { ok: true, status: res.status, json };
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new Error(`response larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeFetchError(e: unknown, timeout: AbortSignal, ms: number): string {
  if (timeout.aborted) return `timed out after ${ms}ms`;
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) return `${e.message}: ${cause.message}`;
    return e.name === 'AbortError' ? 'aborted' : e.message;
  }
  return String(e);
}
