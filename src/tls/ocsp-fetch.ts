/**
 * One OCSP exchange over HTTP (RFC 6960 appendix A): the DER request POSTed as `application/ocsp-request`,
 * the DER response read back. Bounded in time and in size: the responder is named by the certificate,
 * not by us, and a slow or oversized answer must not hold the master.
 */

/** A responder that has not answered in this long is given up on (the next attempt is backed off). */
export const OCSP_FETCH_TIMEOUT_MS = 10_000;
/** Real responses are a few KiB (one answer, perhaps a responder certificate). */
export const OCSP_MAX_RESPONSE_BYTES = 64 * 1024;

export async function fetchOcspResponse(
  url: string,
  request: Buffer,
  timeoutMs = OCSP_FETCH_TIMEOUT_MS,
): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      body: new Uint8Array(request),
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    // undici says only "fetch failed"; the cause has the reason (ECONNREFUSED, a timeout, ...).
    const cause = (err as Error).cause as Error | undefined;
    throw new Error(`POST ${url}: ${cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`POST ${url}: HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > OCSP_MAX_RESPONSE_BYTES) {
    await res.body?.cancel();
    throw new Error(`POST ${url}: response of ${declared} bytes is over ${OCSP_MAX_RESPONSE_BYTES}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body !== null) {
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > OCSP_MAX_RESPONSE_BYTES) {
        throw new Error(`POST ${url}: response over ${OCSP_MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}
