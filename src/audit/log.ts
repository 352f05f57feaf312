import { createHash } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';

/** `prev_hash` of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** One audit entry as stored and as `GET /v1/audit` returns it. */
export interface AuditEntry {
  seq: number;
  time: number;
  /** Token name, or "anonymous" when no valid token was presented. */
  actor: string;
  role: string | null;
  action: string;
  service: string | null;
  revision: number | null;
  /** The request's JSON body, secrets redacted (JSON text). */
  params: string;
  source: string;
  status: number;
  code: string | null;
  prevHash: string;
  hash: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'time' | 'prevHash' | 'hash'>;

/** The result of recomputing the chain. */
export interface AuditVerification {
  ok: boolean;
  /** Entries checked. */
  entries: number;
  /** The first entry that does not check out (edited, or the gap where entries were deleted). */
  broken?: { seq: number; reason: 'edited' | 'deleted'; message: string };
}

/** A row of the `audit` table: an entry with the column name of its previous hash. */
type Row = Omit<AuditEntry, 'prevHash'> & { prev_hash: string };

/** JSON with object keys sorted at every level (a stable input for hashing). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The hash of an entry: sha256(prev_hash + canonical JSON of every other column). */
export function entryHash(prevHash: string, e: Omit<AuditEntry, 'prevHash' | 'hash'>): string {
  const body = canonicalJson({
    seq: e.seq,
    time: e.time,
    actor: e.actor,
    role: e.role,
    action: e.action,
    service: e.service,
    revision: e.revision,
    params: e.params,
    source: e.source,
    status: e.status,
    code: e.code,
  });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

/** Entries `from`..`to` are gone (`what`: "entry", or "fleet entry" for the fleet's chain). */
function deleted(from: number, to: number, what: string): NonNullable<AuditVerification['broken']> {
  const which = from === to ? `${what} ${from} is` : `${what.replace(/y$/, 'ies')} ${from}..${to} are`;
  return { seq: from, reason: 'deleted', message: `${which} missing (deleted)` };
}

/**
 * Checks a hash chain in seq order against its head: every entry's own hash (`hashOf`), its link to
 * the one before, no gap, and nothing missing after the last one. Shared by this host's chain and
 * the fleet's (fleet/audit.ts).
 */
export function verifyChain<E extends { seq: number; prevHash: string; hash: string }>(
  entries: Iterable<E>,
  head: { seq: number; hash: string } | undefined,
  hashOf: (e: E) => string,
  what = 'entry',
): AuditVerification {
  let prevHash = GENESIS_HASH;
  let expected = 1;
  let checked = 0;
  for (const e of entries) {
    if (e.seq !== expected)
      return { ok: false, entries: checked, broken: deleted(expected, e.seq - 1, what) };
    if (hashOf(e) !== e.hash) {
      return {
        ok: false,
        entries: checked,
        broken: { seq: e.seq, reason: 'edited', message: `${what} ${e.seq} was modified (hash mismatch)` },
      };
    }
    if (e.prevHash !== prevHash) {
      // The entry's own hash is consistent, but it no longer follows its predecessor: either
      // the predecessor was edited and re-hashed, or this entry was.
      const at = e.seq > 1 ? e.seq - 1 : e.seq;
      return {
        ok: false,
        entries: checked,
        broken: {
          seq: at,
          reason: 'edited',
          message: `${what} ${at} was modified (${what} ${e.seq} does not chain to it)`,
        },
      };
    }
    prevHash = e.hash;
    expected++;
    checked++;
  }
  const headSeq = head?.seq ?? 0;
  if (headSeq > checked) return { ok: false, entries: checked, broken: deleted(expected, headSeq, what) };
  if (head && head.hash !== prevHash) {
    return {
      ok: false,
      entries: checked,
      broken: {
        seq: head.seq,
        reason: 'edited',
        message: `${what} ${head.seq} was modified (head mismatch)`,
      },
    };
  }
  return { ok: true, entries: checked };
}

function fromRow(r: Row): AuditEntry {
  return {
    seq: r.seq,
    time: r.time,
    actor: r.actor,
    role: r.role,
    action: r.action,
    service: r.service,
    revision: r.revision,
    params: r.params,
    source: r.source,
    status: r.status,
    code: r.code,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * The append-only, hash-chained audit trail (table `audit`). Each entry stores
 * sha256(previous hash + canonical JSON of the entry); `audit_head` holds the last seq and hash
 * so that deleting the newest entries is detected too.
 */
export class AuditLog {
  private readonly db: DatabaseSync;
  private readonly now: () => number;

  constructor(db: DatabaseSync, now: () => number = Date.now) {
    this.db = db;
    this.now = now;
  }

  append(e: NewAuditEntry): AuditEntry {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const head = this.head();
      const seq = (head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? GENESIS_HASH;
      const base = { ...e, seq, time: this.now() };
      const hash = entryHash(prevHash, base);
      this.db
        .prepare(
          'INSERT INTO audit (seq, time, actor, role, action, service, revision, params, source, status, code, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          seq,
          base.time,
          e.actor,
          e.role,
          e.action,
          e.service,
          e.revision,
          e.params,
          e.source,
          e.status,
          e.code,
          prevHash,
          hash,
        );
      this.db
        .prepare(
          'INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
        )
        .run(seq, hash);
      this.db.exec('COMMIT');
      return { ...base, prevHash, hash };
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** The last seq and hash written (absent before the first entry). */
  private head(): { seq: number; hash: string } | undefined {
    return this.db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as
      | { seq: number; hash: string }
      | undefined;
  }

  /** The newest `limit` entries (oldest first), optionally of one service. */
  list(opts: { service?: string; limit?: number } = {}): AuditEntry[] {
    const limit = opts.limit ?? 100;
    const rows = (opts.service
      ? this.db
          .prepare('SELECT * FROM audit WHERE service = ? ORDER BY seq DESC LIMIT ?')
          .all(opts.service, limit)
      : this.db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(limit)) as unknown as Row[];
    return rows.reverse().map(fromRow);
  }

  /** Up to `limit` entries after `seq`, oldest first (what the fleet's shipper sends next). */
  since(seq: number, limit: number): AuditEntry[] {
    const rows = this.db
      .prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(seq, limit) as unknown as Row[];
    return rows.map(fromRow);
  }

  /** Recomputes the chain from the first entry; reports the first edited or deleted entry. */
  verify(): AuditVerification {
    const rows = this.db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as Iterable<Row>;
    const entries = (function* () {
      for (const r of rows) yield fromRow(r);
    })();
    return verifyChain(entries, this.head(), (e) => entryHash(e.prevHash, e));
  }
}
