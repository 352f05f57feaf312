/**
 * Dashboard sign-in: `POST /v1/session {token}` exchanges a token for a session cookie (HttpOnly,
 * SameSite=Strict, Secure under TLS) and a CSRF token for the page; `GET /v1/session` says who is
 * signed in; `DELETE /v1/session` signs out.
 */
import type http from 'node:http';
import { PUBLIC, READ } from '../auth/roles.ts';
import { cookieValue, SESSION_COOKIE, SESSION_TTL_MS } from '../auth/sessions.ts';
import { onlyKeys, readJson } from './body.ts';
import { ApiError } from './errors.ts';
import type { Security } from './guard.ts';
import type { SecurityRoute } from './security-routes.ts';
import { crossSite } from './session-auth.ts';

function cookie(sec: Security, value: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${sec.tls ? '; Secure' : ''}`;
}

function principalView(who: { name: string; role: string; services: string[] }) {
  return { name: who.name, role: who.role, services: who.services };
}

/** The session routes; `enabled` false (control.dashboard: false) refuses signing in. */
export function sessionRoutes(sec: Security, enabled: boolean): SecurityRoute[] {
  const signIn = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!enabled)
      throw new ApiError(404, 'dashboard_disabled', 'the dashboard is off (control.dashboard: false)');
    // A sign-in planted by another site would act as the attacker's token in the victim's browser.
    const why = crossSite(req, sec.tls);
    if (why) throw new ApiError(403, 'csrf', why);
    const body = await readJson(req, 4096);
    onlyKeys(body, ['token']);
    if (typeof body.token !== 'string' || body.token.trim() === '') {
      throw new ApiError(400, 'invalid_body', 'token: required, a Cutover API token (cut_...)');
    }
    const source = req.socket.remoteAddress ?? 'unknown';
    const now = Date.now();
    const wait = sec.limiter.retryAfter(source, now);
    if (wait > 0) {
      res.setHeader('retry-after', String(wait));
      throw new ApiError(
        429,
        'rate_limited',
        `too many failed authentications from ${source}; retry in ${wait}s`,
      );
    }
    const who = sec.tokens.verify(body.token.trim());
    if (!who) {
      sec.limiter.fail(source, now);
      throw new ApiError(401, 'unauthenticated', 'invalid or revoked token');
    }
    const s = sec.sessions.open(who);
    res.setHeader('set-cookie', cookie(sec, s.id, Math.floor(SESSION_TTL_MS / 1000)));
    res.setHeader('cache-control', 'no-store');
    return { signedIn: true, ...principalView(who), csrf: s.csrf };
  };
  return [
    ['POST', /^\/v1\/session$/, signIn, { perm: PUBLIC.perm, action: 'session.open' }],
    [
      'GET',
      /^\/v1\/session$/,
      // Public, so that a page asking "am I signed in?" is not counted as a failed authentication.
      async (req, res) => {
        res.setHeader('cache-control', 'no-store');
        const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
        const s = sid ? sec.sessions.get(sid) : undefined;
        if (!s) return { signedIn: false };
        return { signedIn: true, ...principalView(s.principal), csrf: s.csrf };
      },
      PUBLIC,
    ],
    [
      'DELETE',
      /^\/v1\/session$/,
      async (req, res) => {
        const c = sec.caller(req);
        if (c?.session) sec.sessions.close(c.session);
        res.setHeader('set-cookie', cookie(sec, '', 0));
        return { signedOut: c?.session !== undefined };
      },
      { perm: READ.perm, action: 'session.close' },
    ],
  ];
}
