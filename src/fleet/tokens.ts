/**
 * API tokens across a fleet: etcd holds the fleet's tokens (hashes only) under `tokens/`; every
 * host mirrors them into its own state DB, so a token made on one host works on every host and
 * a revoked one stops working everywhere, and checking a token never waits for etcd (a host cut
 * off from etcd still authenticates with what it last saw). Each host's own `admin` token (its
 * `admin.token` file) stays local and is never shared.
 */

import { isRole, type Role } from '../auth/roles.ts';
import {
  ADMIN_TOKEN_NAME,
  hashToken,
  newSecret,
  type TokenInfo,
  type TokenRecord,
  type TokenStore,
  type TokenWrites,
} from '../auth/tokens.ts';
import type { Logger } from '../log/logger.ts';
import type { EtcdClient, WatchHandle } from '../store/etcd/client.ts';
import type { FleetKeys } from './keys.ts';

function parse(value: string): TokenRecord | undefined {
  try {
    const r = JSON.parse(value) as TokenRecord;
    if (typeof r.name !== 'string' || typeof r.hash !== 'string' || !isRole(r.role)) return undefined;
    if (!Array.isArray(r.services) || typeof r.createdAt !== 'number') return undefined;
    return r;
  } catch {
    return undefined;
  }
}

export class FleetTokens implements TokenWrites {
  private readonly client: EtcdClient;
  private readonly keys: FleetKeys;
  private readonly local: TokenStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private watch?: WatchHandle;

  constructor(opts: {
    client: EtcdClient;
    keys: FleetKeys;
    local: TokenStore;
    log: Logger;
    now?: () => number;
  }) {
    this.client = opts.client;
    this.keys = opts.keys;
    this.local = opts.local;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Takes the fleet's tokens into this host's DB and follows every change. Tokens that exist only
   * on this host (made before it joined) are kept and named in a warning: `cutover cluster import`
   * moves them into the fleet.
   */
  async start(): Promise<void> {
    const now = await this.client.range(this.keys.tokens);
    const fleet = new Set<string>();
    for (const kv of now.kvs) {
      const r = parse(kv.value);
      if (!r || r.name === ADMIN_TOKEN_NAME) continue;
      fleet.add(r.name);
      this.local.putRecord(r);
    }
    const onlyHere = this.local
      .records()
      .filter((r) => r.name !== ADMIN_TOKEN_NAME && !fleet.has(r.name))
      .map((r) => r.name);
    if (onlyHere.length > 0)
      this.log.warn('tokens exist only on this host; `cutover cluster import` shares them with the fleet', {
        tokens: onlyHere,
      });
    this.watch = this.client.watch(this.keys.tokens, now.revision, (events) => {
      for (const e of events) {
        const name = e.kv.key.slice(this.keys.tokens.length);
        if (name === ADMIN_TOKEN_NAME) continue;
        if (e.type === 'delete') {
          if (this.local.revoke(name)) this.log.info('fleet token revoked', { token: name });
          continue;
        }
        const r = parse(e.kv.value);
        if (r) this.local.putRecord(r);
      }
    });
  }

  stop(): void {
    this.watch?.close();
  }

  async create(
    name: string,
    role: Role,
    services: string[],
  ): Promise<{ token: string; info: TokenInfo } | undefined> {
    if (name === ADMIN_TOKEN_NAME || this.local.get(name)) return undefined;
    const token = newSecret();
    const record: TokenRecord = {
      name,
      hash: hashToken(token).toString('hex'),
      role,
      services,
      createdAt: this.now(),
    };
    if (!(await this.share(record))) return undefined;
    // Here at once (the watch brings it too): the caller may use the token on this host right away.
    this.local.putRecord(record);
    return { token, info: this.local.get(name)! };
  }

  async revoke(name: string): Promise<boolean> {
    const deleted = await this.client.delete(this.keys.token(name));
    // A token only this host had (never imported) is revoked here too.
    return this.local.revoke(name) || deleted > 0;
  }

  /** Puts `record` into etcd unless the fleet has a token by that name; false if it has. */
  async share(record: TokenRecord): Promise<boolean> {
    const key = this.keys.token(record.name);
    const res = await this.client.txn({
      compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
      success: [{ put: { key, value: JSON.stringify(record) } }],
    });
    return res.succeeded;
  }

  /** `cluster import`: shares this host's own tokens (not `admin`); names the fleet already has stay as they are. */
  async importLocal(): Promise<{ imported: string[]; kept: string[] }> {
    const imported: string[] = [];
    const kept: string[] = [];
    for (const r of this.local.records()) {
      if (r.name === ADMIN_TOKEN_NAME) continue;
      if (await this.share(r)) imported.push(r.name);
      else kept.push(r.name);
    }
    return { imported, kept };
  }
}
