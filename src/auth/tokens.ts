import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { isRole, type Principal, type Role } from './roles.ts';

/** Every token starts with this, followed by 32 random bytes in base64url. */
export const TOKEN_PREFIX = 'cut_';
const TOKEN_RE = /^cut_[A-Za-z0-9_-]{43}$/;
export const TOKEN_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
/** The token created on first start and written to `<dataDir>/admin.token`. */
export const ADMIN_TOKEN_NAME = 'admin';
export const ADMIN_TOKEN_FILE = 'admin.token';
/** `last_used_at` is written at most this often per token. */
const LAST_USED_RESOLUTION_MS = 1000;

/** A token as listed (never the secret). */
export interface TokenInfo {
  name: string;
  role: Role;
  services: string[];
  createdAt: number;
  lastUsedAt?: number;
}

interface TokenRow {
  name: string;
  hash: string;
  role: string;
  services: string;
  created_at: number;
  last_used_at: number | null;
}

/** A stored token as the fleet shares it: the hash, never the secret. */
export interface TokenRecord {
  name: string;
  /** SHA-256 of the secret, hex. */
  hash: string;
  role: Role;
  services: string[];
  createdAt: number;
}

/** Where token changes go: this host's state DB, or (fleet mode) etcd for every host. */
export interface TokenWrites {
  /** The new token's secret (shown once), or undefined if the name is taken. */
  create(
    name: string,
    role: Role,
    services: string[],
  ): Promise<{ token: string; info: TokenInfo } | undefined>;
  /** False if there was no token by that name. */
  revoke(name: string): Promise<boolean>;
}

export function newSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function looksLikeToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

function info(r: TokenRow): TokenInfo {
  return {
    name: r.name,
    role: isRole(r.role) ? r.role : 'viewer',
    services: JSON.parse(r.services) as string[],
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at ?? undefined,
  };
}

/** API tokens in the state DB, stored as SHA-256 hashes of their secrets. */
export class TokenStore {
  private readonly db: DatabaseSync;
  private readonly now: () => number;

  constructor(db: DatabaseSync, now: () => number = Date.now) {
    this.db = db;
    this.now = now;
  }

  /** The principal a presented token belongs to; compares every stored hash in constant time. */
  verify(token: string): Principal | undefined {
    if (!looksLikeToken(token)) return undefined;
    const h = hashToken(token);
    const rows = this.db.prepare('SELECT * FROM tokens').all() as unknown as TokenRow[];
    let found: TokenRow | undefined;
    for (const r of rows) {
      const stored = Buffer.from(r.hash, 'hex');
      if (stored.length === h.length && timingSafeEqual(stored, h) && !found) found = r;
    }
    if (!found) return undefined;
    const now = this.now();
    if (found.last_used_at === null || found.last_used_at < now - LAST_USED_RESOLUTION_MS) {
      this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE name = ?').run(now, found.name);
    }
    const i = info(found);
    return { name: i.name, role: i.role, services: i.services };
  }

  list(): TokenInfo[] {
    const rows = this.db
      .prepare('SELECT * FROM tokens ORDER BY created_at, name')
      .all() as unknown as TokenRow[];
    return rows.map(info);
  }

  get(name: string): TokenInfo | undefined {
    const r = this.db.prepare('SELECT * FROM tokens WHERE name = ?').get(name) as TokenRow | undefined;
    return r ? info(r) : undefined;
  }

  /** Creates a token; returns its secret (shown once, never stored), or undefined if the name is taken. */
  create(name: string, role: Role, services: string[]): { token: string; info: TokenInfo } | undefined {
    if (this.get(name)) return undefined;
    const token = newSecret();
    this.put(name, token, role, services);
    return { token, info: this.get(name)! };
  }

  /** Inserts or replaces a token under `name`. */
  put(name: string, token: string, role: Role, services: string[]): void {
    this.db
      .prepare(
        'INSERT INTO tokens (name, hash, role, services, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT(name) DO UPDATE SET hash = excluded.hash, role = excluded.role, services = excluded.services, created_at = excluded.created_at, last_used_at = NULL',
      )
      .run(name, hashToken(token).toString('hex'), role, JSON.stringify(services), this.now());
  }

  /** Every stored token with its hash (what `cluster import` copies into the fleet). */
  records(): TokenRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM tokens ORDER BY created_at, name')
      .all() as unknown as TokenRow[];
    return rows.map((r) => ({ ...info(r), hash: r.hash }));
  }

  /** Inserts or replaces a token by its hash (a fleet token arriving from etcd). */
  putRecord(r: TokenRecord): void {
    this.db
      .prepare(
        'INSERT INTO tokens (name, hash, role, services, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT(name) DO UPDATE SET hash = excluded.hash, role = excluded.role, services = excluded.services, created_at = excluded.created_at',
      )
      .run(r.name, r.hash, r.role, JSON.stringify(r.services), r.createdAt);
  }

  /** Writes to this host's state DB only. */
  localWrites(): TokenWrites {
    return {
      create: async (name, role, services) => this.create(name, role, services),
      revoke: async (name) => this.revoke(name),
    };
  }

  /** Deletes a token; false if there was none by that name. */
  revoke(name: string): boolean {
    return Number(this.db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes) > 0;
  }

  /**
   * Makes sure `<dataDir>/admin.token` holds a working admin token: kept when it still matches
   * the stored admin token, otherwise (first start, file deleted to rotate it, state wiped) a new
   * one replaces both. The file is written 0600 (atomically, via a temp file).
   */
  ensureAdminToken(dataDir: string): { file: string; created: boolean } {
    const file = path.join(dataDir, ADMIN_TOKEN_FILE);
    if (existsSync(file)) {
      const token = readFileSync(file, 'utf8').trim();
      const who = this.verify(token);
      if (who?.name === ADMIN_TOKEN_NAME && who.role === 'admin') {
        if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
        return { file, created: false };
      }
    }
    const token = newSecret();
    const tmp = `${file}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
    try {
      this.put(ADMIN_TOKEN_NAME, token, 'admin', []);
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return { file, created: true };
  }
}
