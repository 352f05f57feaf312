/**
 * How a browser request proves it comes from the dashboard page and not from another site: a
 * cookie-authenticated request that changes something must carry the session's CSRF token in
 * `X-CSRF-Token` (a header other sites cannot set), and its `Origin` / `Sec-Fetch-Site` must say
 * same origin when the browser sends them.
 */
import type http from 'node:http';
import { sameSecret } from '../auth/sessions.ts';

export const CSRF_HEADER = 'x-csrf-token';

/** Why a request is not same-origin, or undefined when it is (or the browser did not say). */
export function crossSite(req: http.IncomingMessage, tls: boolean): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  const expected = `${tls ? 'https' : 'http'}://${req.headers.host ?? ''}`;
  if (origin !== expected) return `cross-site request refused (Origin ${origin} is not ${expected})`;
  return undefined;
}

/** Why a cookie-authenticated unsafe request is refused, or undefined when it may go on. */
export function csrfRefusal(req: http.IncomingMessage, csrf: string, tls: boolean): string | undefined {
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || !sameSecret(sent, csrf)) {
    return `missing or wrong ${CSRF_HEADER} header for a session-authenticated request`;
  }
  return crossSite(req, tls);
}
