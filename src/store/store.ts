import { mkdirSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import type { CoreEvent, ServiceState } from '../core/model.ts';
import { openState } from './open.ts';

/** Bump with a new entry in MIGRATIONS when the schema changes. */
const MIGRATIONS: string[] = [
  `CREATE TABLE services (name TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, service TEXT NOT NULL,
     type TEXT NOT NULL, revision INTEGER, message TEXT NOT NULL);
   CREATE INDEX events_service ON events (service, id);
   CREATE TABLE instances (id TEXT PRIMARY KEY, service TEXT NOT NULL, revision INTEGER NOT NULL,
     pid INTEGER, port INTEGER NOT NULL, created_at INTEGER NOT NULL);`,
  // 2: API tokens (hashed) and the hash-chained audit trail (src/auth, src/audit).
  `CREATE TABLE tokens (name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
     services TEXT NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER);
   CREATE TABLE audit (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL, role TEXT,
     action TEXT NOT NULL, service TEXT, revision INTEGER, params TEXT NOT NULL, source TEXT NOT NULL,
     status INTEGER NOT NULL, code TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
   CREATE INDEX audit_service ON audit (service, seq);
   CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);`,
];

/** A stored event, as `cutover events` / `history` show it. */
export interface StoredEvent extends CoreEvent {
  id: number;
  time: number;
}

/** A running instance as last recorded (for cleanup after a crash of the controller). */
export interface InstanceRecord {
  id: string;
  service: string;
  revision: number;
  pid?: number;
  port: number;
  createdAt: number;
}

/**
 * Embedded state in `<dataDir>/state.db` (SQLite, WAL). Service state is written in the same
 * transaction as the events that explain it, before the controller acts on it.
 */
export class Store {
  readonly db: DatabaseSync;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = openState(dataDir);
    this.migrate();
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
      | { value: string }
      | undefined;
    let version = row ? Number(row.value) : 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`state database schema ${version} is newer than this Cutover (${MIGRATIONS.length})`);
    }
    while (version < MIGRATIONS.length) {
      this.tx(() => {
        this.db.exec(MIGRATIONS[version]);
        version++;
        this.db
          .prepare(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = ?",
          )
          .run(String(version), String(version));
      });
    }
  }

  /** Runs `fn` in one transaction. */
  tx<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  loadServices(): Map<string, ServiceState> {
    const rows = this.db.prepare('SELECT name, state FROM services').all() as Array<{
      name: string;
      state: string;
    }>;
    return new Map(rows.map((r) => [r.name, JSON.parse(r.state) as ServiceState]));
  }

  /** Persists service states and the events that explain them, atomically. */
  commit(states: ServiceState[], events: CoreEvent[], now: number): void {
    if (states.length === 0 && events.length === 0) return;
    const put = this.db.prepare(
      'INSERT INTO services (name, state, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
    );
    const ev = this.db.prepare(
      'INSERT INTO events (time, service, type, revision, message) VALUES (?, ?, ?, ?, ?)',
    );
    this.tx(() => {
      for (const s of states) put.run(s.name, JSON.stringify(s), now);
      for (const e of events) ev.run(now, e.service, e.type, e.revision ?? null, e.message);
    });
  }

  /** Forgets a service removed from the config (its events stay). */
  deleteService(name: string): void {
    this.db.prepare('DELETE FROM services WHERE name = ?').run(name);
  }

  events(opts: { service?: string; limit?: number; afterId?: number } = {}): StoredEvent[] {
    const limit = opts.limit ?? 100;
    const rows = (
      opts.service
        ? this.db
            .prepare('SELECT * FROM events WHERE service = ? AND id > ? ORDER BY id DESC LIMIT ?')
            .all(opts.service, opts.afterId ?? 0, limit)
        : this.db
            .prepare('SELECT * FROM events WHERE id > ? ORDER BY id DESC LIMIT ?')
            .all(opts.afterId ?? 0, limit)
    ) as Array<{
      id: number;
      time: number;
      service: string;
      type: string;
      revision: number | null;
      message: string;
    }>;
    return rows.reverse().map((r) => ({
      id: r.id,
      time: r.time,
      service: r.service,
      type: r.type as CoreEvent['type'],
      revision: r.revision ?? undefined,
      message: r.message,
    }));
  }

  putInstance(rec: InstanceRecord): void {
    this.db
      .prepare(
        'INSERT INTO instances (id, service, revision, pid, port, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, port = excluded.port',
      )
      .run(rec.id, rec.service, rec.revision, rec.pid ?? null, rec.port, rec.createdAt);
  }

  deleteInstance(id: string): void {
    this.db.prepare('DELETE FROM instances WHERE id = ?').run(id);
  }

  instances(): InstanceRecord[] {
    const rows = this.db.prepare('SELECT * FROM instances').all() as Array<{
      id: string;
      service: string;
      revision: number;
      pid: number | null;
      port: number;
      created_at: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      service: r.service,
      revision: r.revision,
      pid: r.pid ?? undefined,
      port: r.port,
      createdAt: r.created_at,
    }));
  }

  close(): void {
    this.db.close();
  }
}
