import type http from 'node:http';
import { AuditLog, canonicalJson } from '../audit/log.ts';
import { auditParams, MAX_PARAMS_BYTES, REDACTED } from '../audit/params.ts';
import { FailureLimiter } from '../auth/ratelimit.ts';
import { type Access, actionName, authorize, type Principal } from '../auth/roles.ts';
import { cookieValue, SESSION_COOKIE, SessionStore } from '../auth/sessions.ts';
import { looksLikeToken, TokenStore, type TokenWrites } from '../auth/tokens.ts';
import type { Logger } from '../log/logger.ts';
import { SqliteStore } from '../store/store.ts';
import { ApiError } from './errors.ts';
import { csrfRefusal } from './session-auth.ts';

/** How long a refused request's body is awaited for the audit entry. */
const BODY_WAIT_MS = 2000;
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The route a request matched (or would be refused by). */
export interface GuardRequest {
  method: string;
  path: string;
  access: Access;
  params: Record<string, string>;
}

interface BodyTap {
  chunks: Buffer[];
  size: number;
  truncated: boolean;
  done: Promise<void>;
}

/** Copies what a request body's reader sees (up to MAX_PARAMS_BYTES) for the audit entry. */
function tapBody(req: http.IncomingMessage): BodyTap {
  const tap: BodyTap = { chunks: [], size: 0, truncated: false, done: Promise.resolve() };
  tap.done = new Promise<void>((resolve) => {
    if (req.readableEnded) return resolve();
    const t = setTimeout(resolve, BODY_WAIT_MS);
    t.unref();
    const finish = () => {
      clearTimeout(t);
      resolve();
    };
    req.on('end', finish);
    req.on('close', finish);
    req.on('error', finish);
  });
  req.on('data', (c: Buffer) => {
    if (tap.truncated) return;
    if (tap.size + c.length > MAX_PARAMS_BYTES) {
      tap.truncated = true;
      tap.chunks = [];
      return;
    }
    tap.chunks.push(c);
    tap.size += c.length;
  });
  return tap;
}

/** The bearer token of a request: undefined when none was sent, '' when the header is malformed. */
function bearer(req: http.IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
  return m ? m[1] : '';
}

function revisionOf(result: unknown): number | null {
  if (typeof result !== 'object' || result === null) return null;
  const r = result as { revision?: unknown; rollout?: { to?: unknown } };
  if (typeof r.revision === 'number') return r.revision;
  if (typeof r.rollout?.to === 'number') return r.rollout.to;
  return null;
}

/**
 * Authentication (bearer tokens), authorization (roles) and the audit trail around the control
 * API's route dispatch. Uses its own connection to `<dataDir>/state.db`.
 */
export class Security {
  readonly store: SqliteStore;
  readonly tokens: TokenStore;
  /** Token create/revoke: this host's DB, replaced in fleet mode by etcd (every host mirrors it). */
  tokenWrites: TokenWrites;
  readonly audit: AuditLog;
  readonly limiter: FailureLimiter;
  readonly sessions: SessionStore;
  /** The control listener serves HTTPS: session cookies are Secure, origins https. */
  readonly tls: boolean;
  private readonly log: Logger;
  /** Who each request in flight was authenticated as, and by which session (if by cookie). */
  private readonly callers = new WeakMap<http.IncomingMessage, { who: Principal; session?: string }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(dataDir: string, log: Logger, opts: { limiter?: FailureLimiter; tls?: boolean } = {}) {
    this.store = new SqliteStore(dataDir);
    this.tokens = new TokenStore(this.store.db);
    this.tokenWrites = this.tokens.localWrites();
    this.sessions = new SessionStore(this.tokens);
    this.tls = opts.tls === true;
    this.sweeper = setInterval(() => this.sessions.sweep(), 60_000);
    this.sweeper.unref();
    this.audit = new AuditLog(this.store.db);
    this.limiter = opts.limiter ?? new FailureLimiter();
    this.log = log;
    const admin = this.tokens.ensureAdminToken(dataDir);
    if (admin.created) log.info('created the admin token', { file: admin.file });
  }

  /**
   * Runs `dispatch` if the request may; otherwise throws 401/403/429. Every mutating request,
   * allowed or not, is appended to the audit trail with its outcome before the response goes out.
   * `dispatch` is called synchronously (no await before it) so that it sees the whole body.
   */
  async run(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    g: GuardRequest,
    dispatch: () => Promise<unknown>,
  ): Promise<unknown> {
    const mutating = !READ_METHODS.has(g.method);
    const tap = mutating ? tapBody(req) : undefined;
    if (g.access.perm === 'public' && !mutating) return dispatch();
    const source = req.socket.remoteAddress ?? 'unknown';
    let who: Principal | undefined;
    let refusal: ApiError | undefined;
    let audited = mutating;
    if (g.access.perm !== 'public') {
      const token = bearer(req);
      who = token ? this.tokens.verify(token) : undefined;
      // Without an Authorization header, the dashboard's session cookie may stand in for the token.
      const sid = token === undefined ? cookieValue(req.headers.cookie, SESSION_COOKIE) : undefined;
      const session = sid ? this.sessions.get(sid) : undefined;
      if (session) {
        who = session.principal;
        const why = mutating ? csrfRefusal(req, session.csrf, this.tls) : undefined;
        if (why) refusal = new ApiError(403, 'csrf', why);
      }
      if (who) this.callers.set(req, { who, session: session ? sid : undefined });
      if (refusal) {
        // refused as cross-site, before its role is looked at
      } else if (!who) {
        const now = Date.now();
        const wait = this.limiter.retryAfter(source, now);
        if (wait > 0) {
          res.setHeader('retry-after', String(wait));
          refusal = new ApiError(
            429,
            'rate_limited',
            `too many failed authentications from ${source}; retry in ${wait}s`,
          );
          audited = mutating && this.limiter.shouldNote(source, now);
        } else {
          this.limiter.fail(source, now);
          res.setHeader(
            'www-authenticate',
            token === undefined ? 'Bearer realm="cutover"' : 'Bearer realm="cutover", error="invalid_token"',
          );
          refusal = new ApiError(
            401,
            'unauthenticated',
            token === undefined
              ? sid
                ? 'session expired or signed out: sign in again'
                : 'missing token: send "Authorization: Bearer <token>"'
              : 'invalid or revoked token',
          );
        }
      } else {
        const d = authorize(who, g.access, g.params.name);
        if (!d.ok) refusal = new ApiError(403, 'forbidden', d.message);
      }
    }
    let result: unknown;
    let failure: unknown;
    if (refusal) {
      failure = refusal;
      if (tap) req.resume();
    } else {
      try {
        result = await dispatch();
      } catch (err) {
        failure = err;
      }
    }
    if (audited && tap) {
      await tap.done;
      const e =
        failure instanceof ApiError ? failure : failure ? new ApiError(500, 'internal', '') : undefined;
      try {
        this.appendEntry(
          g,
          who,
          source,
          tap,
          e ? e.status : res.statusCode,
          e?.code ?? null,
          revisionOf(result),
        );
      } catch (err) {
        // An audit failure must not hide what happened: refuse loudly.
        this.log.error('audit append failed', { err, path: g.path });
        if (!failure) failure = new ApiError(500, 'audit_failed', 'the request ran but could not be audited');
      }
    }
    if (failure) throw failure;
    return result;
  }

  /** The principal (and session id, when by cookie) a request in flight was authenticated as. */
  caller(req: http.IncomingMessage): { who: Principal; session?: string } | undefined {
    return this.callers.get(req);
  }

  private appendEntry(
    g: GuardRequest,
    who: Principal | undefined,
    source: string,
    tap: BodyTap,
    status: number,
    code: string | null,
    revision: number | null,
  ): void {
    let params = auditParams(Buffer.concat(tap.chunks), tap.truncated);
    const extra = Object.entries(g.params).filter(([k]) => k !== 'name' && k !== 'op');
    if (extra.length > 0) {
      const parsed: unknown = JSON.parse(params);
      const o: Record<string, unknown> =
        typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
          ? (parsed as Record<string, unknown>)
          : { body: parsed };
      for (const [k, v] of extra) o[k] = looksLikeToken(v) ? REDACTED : v;
      params = canonicalJson(o);
    }
    this.audit.append({
      actor: who?.name ?? 'anonymous',
      role: who?.role ?? null,
      action: actionName(g.access, g.params, g.method, g.path),
      service: g.params.name ?? null,
      revision,
      params,
      source,
      status,
      code,
    });
  }

  close(): void {
    clearInterval(this.sweeper);
    try {
      this.store.close();
    } catch {}
  }
}
