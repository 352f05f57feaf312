/**
 * Browser sessions of the dashboard: a signed-in token is exchanged for a random session id kept
 * in an HttpOnly cookie, so the token itself never sits in the page's reach. Sessions live in
 * memory (a restart signs everyone out) and end at `ttlMs` after the last use, at sign-out, or
 * when their token is revoked or replaced.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from './roles.ts';
import type { TokenStore } from './tokens.ts';

export const SESSION_COOKIE = 'cutover_session';
/** Idle sessions end after this long. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** A bound on memory: the oldest session goes when a new one would pass it. */
const MAX_SESSIONS = 10_000;

interface Session {
  /** The token's name and creation time: a token revoked or replaced ends its sessions. */
  token: string;
  tokenCreatedAt: number;
  csrf: string;
  expiresAt: number;
}

export interface SessionInfo {
  principal: Principal;
  csrf: string;
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Constant-time comparison of two strings (false for different lengths). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly tokens: TokenStore;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(tokens: TokenStore, opts: { ttlMs?: number; now?: () => number } = {}) {
    this.tokens = tokens;
    this.ttlMs = opts.ttlMs ?? SESSION_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  /** Opens a session for a verified principal; returns its id (the cookie value) and CSRF token. */
  open(who: Principal): { id: string; csrf: string } {
    const info = this.tokens.get(who.name);
    if (!info) throw new Error(`token "${who.name}" vanished while signing in`);
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    this.sessions.set(id, {
      token: who.name,
      tokenCreatedAt: info.createdAt,
      csrf,
      expiresAt: this.now() + this.ttlMs,
    });
    return { id, csrf };
  }

  /** The live session `id` names (its expiry pushed back), or undefined. */
  get(id: string): SessionInfo | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = this.now();
    const t = this.tokens.get(s.token);
    if (s.expiresAt <= now || !t || t.createdAt !== s.tokenCreatedAt) {
      this.sessions.delete(id);
      return undefined;
    }
    s.expiresAt = now + this.ttlMs;
    return { principal: { name: t.name, role: t.role, services: t.services }, csrf: s.csrf };
  }

  close(id: string): boolean {
    return this.sessions.delete(id);
  }

  /** Drops expired sessions (called now and then; `get` also checks). */
  sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}
