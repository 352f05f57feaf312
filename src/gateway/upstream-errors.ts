/** How a failed upstream attempt is classified: what may be retried, and which counter it lands in. */
import { UPSTREAM_OTHER, UPSTREAM_RESET, UPSTREAM_TIMEOUT } from './stats.ts';

export function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}

/** The connection died under a request that got no response byte (keep-alive reuse race). */
export function isSocketError(code: string | undefined): boolean {
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
}

export function errorCode(err: Error): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : undefined;
}

/** The upstream-error counter of a failure after the request was sent and before any response byte. */
export function sentErrorSlot(code: string | undefined): number {
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return UPSTREAM_TIMEOUT;
  return isSocketError(code) || code === 'UND_ERR_REFUSED' ? UPSTREAM_RESET : UPSTREAM_OTHER;
}
