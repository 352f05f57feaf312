/**
 * The fleet's audit trail: one hash chain in etcd that every host's audit entries join. Each host
 * still appends every request to its own chain in SQLite before it answers (so an entry is never
 * lost, etcd or not); a shipper then appends the host's entries to the fleet chain in order, each
 * in one etcd transaction that checks the chain's head and the host's shipped mark, so an entry
 * joins exactly once even when an answer is lost or two hosts append at the same moment. A host
 * that joins ships its earlier entries first: its history from before the fleet is kept too.
 */
import { createHash } from 'node:crypto';
import {
  type AuditEntry,
  type AuditLog,
  type AuditVerification,
  canonicalJson,
  GENESIS_HASH,
  verifyChain,
} from '../audit/log.ts';
import type { Logger } from '../log/logger.ts';
import type { EtcdClient, KeyValue } from '../store/etcd/client.ts';
import type { FleetKeys } from './keys.ts';

/** How often a host looks for entries to ship (the API's answer never waits for it). */
const SHIP_INTERVAL_MS = 250;
/** Entries shipped per pass; the next pass goes on. */
const SHIP_BATCH = 200;

/** An entry of the fleet chain: the host's entry, where it came from, and its place in the chain. */
export interface FleetAuditEntry extends AuditEntry {
  host: string;
  /** The entry's seq in its host's own chain. */
  hostSeq: number;
}

interface Head {
  seq: number;
  hash: string;
}

export function fleetEntryHash(prevHash: string, e: Omit<FleetAuditEntry, 'prevHash' | 'hash'>): string {
  const body = canonicalJson({ ...e, prevHash: undefined, hash: undefined });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

export class FleetAudit {
  private readonly client: EtcdClient;
  private readonly keys: FleetKeys;
  private readonly host: string;
  private readonly local: AuditLog;
  private readonly log: Logger;
  /** Local seq shipped so far (read from etcd on the first pass). */
  private shipped: number | undefined;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private failing = false;

  constructor(opts: { client: EtcdClient; keys: FleetKeys; host: string; local: AuditLog; log: Logger }) {
    this.client = opts.client;
    this.keys = opts.keys;
    this.host = opts.host;
    this.local = opts.local;
    this.log = opts.log;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), SHIP_INTERVAL_MS);
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.busy) return;
    this.busy = true;
    this.ship()
      .then(() => {
        if (this.failing) this.log.info('audit entries ship to the fleet again', { host: this.host });
        this.failing = false;
      })
      .catch((err: unknown) => {
        if (!this.failing)
          this.log.warn('audit entries not shipped to the fleet yet (kept on this host)', {
            host: this.host,
            error: (err as Error).message,
          });
        this.failing = true;
      })
      .finally(() => {
        this.busy = false;
      });
  }

  /** Appends this host's entries the fleet chain does not have yet, oldest first. */
  async ship(): Promise<number> {
    const mark = this.keys.auditShipped(this.host);
    if (this.shipped === undefined) this.shipped = Number((await this.client.get(mark))?.value ?? 0);
    const pending = this.local.since(this.shipped, SHIP_BATCH);
    let n = 0;
    for (const e of pending) {
      if (e.seq <= this.shipped) continue;
      if (await this.append(e)) n++;
    }
    return n;
  }

  /** One entry into the fleet chain; false if it was there already (shipped by an earlier try). */
  private async append(e: AuditEntry): Promise<boolean> {
    const mark = this.keys.auditShipped(this.host);
    for (;;) {
      const [headKv, markKv] = await Promise.all([
        this.client.get(this.keys.auditHead),
        this.client.get(mark),
      ]);
      const done = Number(markKv?.value ?? 0);
      if (done >= e.seq) {
        this.shipped = done;
        return false;
      }
      const head = headKv ? (JSON.parse(headKv.value) as Head) : { seq: 0, hash: GENESIS_HASH };
      const { prevHash: _p, hash: _h, ...fields } = e;
      const base = { ...fields, seq: head.seq + 1, host: this.host, hostSeq: e.seq };
      const entry: FleetAuditEntry = { ...base, prevHash: head.hash, hash: fleetEntryHash(head.hash, base) };
      const res = await this.client.txn({
        compare: [same(this.keys.auditHead, headKv), same(mark, markKv)],
        success: [
          { put: { key: this.keys.auditEntry(entry.seq), value: JSON.stringify(entry) } },
          { put: { key: this.keys.auditHead, value: JSON.stringify({ seq: entry.seq, hash: entry.hash }) } },
          { put: { key: mark, value: String(e.seq) } },
        ],
      });
      if (res.succeeded) {
        this.shipped = e.seq;
        return true;
      }
      // Another host appended first (or our earlier try landed): read again and go on.
    }
  }

  /** The newest `limit` entries of the fleet chain (oldest first), optionally of one service. */
  async list(opts: { service?: string; limit?: number } = {}): Promise<FleetAuditEntry[]> {
    const all = await this.entries();
    const chosen = opts.service ? all.filter((e) => e.service === opts.service) : all;
    return chosen.slice(-(opts.limit ?? 100));
  }

  /** Recomputes the fleet chain from its first entry; reports the first edited or deleted one. */
  async verify(): Promise<AuditVerification & { head: number }> {
    const headKv = await this.client.get(this.keys.auditHead);
    const head = headKv ? (JSON.parse(headKv.value) as Head) : undefined;
    const entries = await this.entries();
    const hashOf = ({ prevHash, hash: _h, ...rest }: FleetAuditEntry) => fleetEntryHash(prevHash, rest);
    return { ...verifyChain(entries, head, hashOf, 'fleet entry'), head: head?.seq ?? 0 };
  }

  private async entries(): Promise<FleetAuditEntry[]> {
    const r = await this.client.range(this.keys.auditEntries);
    return r.kvs.map((kv) => JSON.parse(kv.value) as FleetAuditEntry).sort((a, b) => a.seq - b.seq);
  }
}

/** The key is as read: unchanged since, or still absent. */
function same(key: string, kv: KeyValue | null) {
  return kv
    ? { key, target: 'modRevision' as const, op: '=' as const, value: kv.modRevision }
    : { key, target: 'createRevision' as const, op: '=' as const, value: 0 };
}
