/**
 * Leader election over etcd: the leader holds a key created under its own lease and keeps the lease
 * alive; the others watch the key and campaign when it is deleted. Writes of the leader are fenced: they
 * apply only while the key still holds this candidate's name at the revision it created it with.
 * A leader that cannot renew its lease stops considering itself leader before the lease can expire on
 * etcd's side (lease-deadline.ts), so two hosts never both believe they lead.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.ts';
import type {
  Compare,
  EtcdClient,
  KeyValue,
  Op,
  TxnResult,
  WatchEvent,
  WatchHandle,
} from '../store/etcd/client.ts';
import { errorText } from '../util/error-text.ts';
import { keepAliveIntervalMs, localLeaseDeadline } from './lease-deadline.ts';

/** Backoff of a campaign that failed to reach etcd. */
const CAMPAIGN_RETRY_MIN_MS = 100;
const CAMPAIGN_RETRY_MAX_MS = 2000;

/** A fenced write by a candidate that does not (or no longer) lead. */
export class NotLeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotLeaderError';
  }
}

export interface LeadershipOptions {
  client: EtcdClient;
  /** e.g. '/cutover/leader' */
  key: string;
  /** This host's name, the key's value while it leads. */
  candidate: string;
  ttlSeconds: number;
  log: Logger;
}

export interface LeadershipEvents {
  elected: [];
  deposed: [reason: string];
  leader: [name: string | null];
}

/** The lease and key revision of one time this candidate won. */
interface Term {
  lease: string;
  ttlSeconds: number;
  createRevision: number;
  /** Local deadline: not leader any more after this (ms since the epoch). */
  validUntil: number;
  keepAliveTimer?: NodeJS.Timeout;
  deadlineTimer?: NodeJS.Timeout;
  renewing: boolean;
}

export class Leadership extends EventEmitter<LeadershipEvents> {
  private readonly client: EtcdClient;
  private readonly key: string;
  private readonly candidate: string;
  private readonly ttlSeconds: number;
  private readonly log: Logger;
  private running = false;
  private term?: Term;
  private current: string | null = null;
  private campaigning = false;
  private wantCampaign = false;
  private watchHandle?: WatchHandle;
  private wake?: () => void;

  constructor(opts: LeadershipOptions) {
    super();
    if (typeof opts.key !== 'string' || opts.key === '')
      throw new TypeError('leadership: key must be a non-empty string');
    if (typeof opts.candidate !== 'string' || opts.candidate === '')
      throw new TypeError('leadership: candidate must be a non-empty host name');
    if (!Number.isSafeInteger(opts.ttlSeconds) || opts.ttlSeconds < 1)
      throw new TypeError(`leadership: ttlSeconds must be an integer of at least 1, got ${opts.ttlSeconds}`);
    this.client = opts.client;
    this.key = opts.key;
    this.candidate = opts.candidate;
    this.ttlSeconds = opts.ttlSeconds;
    this.log = opts.log.child({ leaderKey: opts.key, candidate: opts.candidate });
  }

  /** Campaigns now, and again whenever the key is deleted or this candidate is deposed. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.kick();
  }

  isLeader(): boolean {
    return this.term !== undefined && Date.now() < this.term.validUntil;
  }

  /** The leader's name as last seen; null when there is none (or it is not known). */
  leader(): string | null {
    return this.current;
  }

  /**
   * Runs `t` only while this candidate leads: the key still holds its name at the revision it created
   * it with (checked by etcd in the same transaction). Throws NotLeaderError otherwise; then nothing ran.
   */
  async fencedTxn(t: { compare?: Compare[]; success: Op[]; failure?: Op[] }): Promise<TxnResult> {
    const term = this.term;
    if (term === undefined || !this.isLeader())
      throw new NotLeaderError(`${this.candidate} is not the leader of ${this.key}`);
    const guard: Compare[] = [
      { key: this.key, target: 'value', op: '=', value: this.candidate },
      { key: this.key, target: 'createRevision', op: '=', value: term.createRevision },
    ];
    const res = await this.client.guardedTxn(guard, {
      compare: t.compare ?? [],
      success: t.success,
      failure: t.failure,
    });
    if (res === null) {
      this.depose(term, 'the leader key changed (fenced write refused)');
      throw new NotLeaderError(
        `${this.candidate} is no longer the leader of ${this.key}: fenced write refused`,
      );
    }
    return res;
  }

  /** Stops campaigning and hands over at once: deletes the key if still ours and revokes the lease. */
  async resign(): Promise<void> {
    const term = this.term;
    this.halt();
    if (term === undefined) return;
    this.setLeader(null);
    this.emit('deposed', 'resigned');
    this.log.info('leadership resigned');
    await this.client.txn({
      compare: [{ key: this.key, target: 'createRevision', op: '=', value: term.createRevision }],
      success: [{ delete: { key: this.key } }],
    });
    await this.client.revokeLease(term.lease);
  }

  /** Stops campaigning and renewing without resigning: the key stays until the lease expires. */
  async stop(): Promise<void> {
    this.halt();
  }

  private halt(): void {
    this.running = false;
    if (this.term !== undefined) this.clearTimers(this.term);
    this.term = undefined;
    this.watchHandle?.close();
    this.watchHandle = undefined;
    this.wake?.();
  }

  private setLeader(name: string | null): void {
    if (name === this.current) return;
    this.current = name;
    this.emit('leader', name);
  }

  private kick(): void {
    this.wantCampaign = true;
    if (!this.campaigning) void this.campaign();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async campaign(): Promise<void> {
    this.campaigning = true;
    let delay = CAMPAIGN_RETRY_MIN_MS;
    try {
      while (this.running && this.term === undefined && this.wantCampaign) {
        this.wantCampaign = false;
        try {
          await this.campaignOnce();
          delay = CAMPAIGN_RETRY_MIN_MS;
        } catch (err) {
          this.log.warn('leadership campaign failed', { error: errorText(err) });
          this.wantCampaign = true;
          await this.pause(delay);
          delay = Math.min(delay * 2, CAMPAIGN_RETRY_MAX_MS);
        }
      }
    } finally {
      this.campaigning = false;
    }
  }

  /** One try: a new lease, and the key created under it unless it exists. */
  private async campaignOnce(): Promise<void> {
    const sentAt = Date.now();
    const lease = await this.client.grantLeaseWithTtl(this.ttlSeconds);
    let res: TxnResult;
    try {
      res = await this.client.txn({
        compare: [{ key: this.key, target: 'createRevision', op: '=', value: 0 }],
        success: [{ put: { key: this.key, value: this.candidate, lease: lease.id } }],
        failure: [{ get: { key: this.key } }],
      });
    } catch (err) {
      void this.revokeQuietly(lease.id);
      throw err;
    }
    if (!this.running) return;
    this.ensureWatch(res.revision);
    const holder: KeyValue | undefined = res.gets[0]?.[0];
    // A txn retried after a lost answer finds its own key: that is a win, too.
    const won = res.succeeded || (holder !== undefined && holder.lease === lease.id);
    if (won) {
      this.becomeLeader({
        lease: lease.id,
        ttlSeconds: lease.ttlSeconds,
        createRevision: res.succeeded ? res.revision : holder!.createRevision,
        validUntil: localLeaseDeadline(sentAt, lease.ttlSeconds),
        renewing: false,
      });
      return;
    }
    void this.revokeQuietly(lease.id);
    this.setLeader(holder?.value ?? null);
    if (holder === undefined) this.wantCampaign = true;
  }

  private becomeLeader(term: Term): void {
    this.term = term;
    term.keepAliveTimer = setInterval(() => void this.renew(term), keepAliveIntervalMs(term.ttlSeconds));
    this.armDeadline(term);
    this.setLeader(this.candidate);
    this.log.info('leadership elected', { createRevision: term.createRevision, lease: term.lease });
    this.emit('elected');
  }

  private armDeadline(term: Term): void {
    clearTimeout(term.deadlineTimer);
    term.deadlineTimer = setTimeout(
      () => {
        if (Date.now() >= term.validUntil)
          this.depose(term, 'lease not renewed in time (local deadline passed)');
        else this.armDeadline(term);
      },
      Math.max(0, term.validUntil - Date.now()),
    );
  }

  private async renew(term: Term): Promise<void> {
    if (term.renewing || this.term !== term) return;
    term.renewing = true;
    const sentAt = Date.now();
    try {
      const ttl = await this.client.keepAlive(term.lease);
      if (this.term !== term) return;
      if (ttl <= 0) {
        this.depose(term, 'lease expired on etcd');
        return;
      }
      term.validUntil = Math.max(term.validUntil, localLeaseDeadline(sentAt, ttl));
      this.armDeadline(term);
    } catch (err) {
      this.log.warn('leadership keepalive failed', { error: errorText(err), lease: term.lease });
    } finally {
      term.renewing = false;
    }
  }

  private depose(term: Term, reason: string): void {
    if (this.term !== term) return;
    this.clearTimers(term);
    this.term = undefined;
    if (this.current === this.candidate) this.setLeader(null);
    this.log.warn('leadership deposed', { reason, lease: term.lease });
    this.emit('deposed', reason);
    void this.revokeQuietly(term.lease);
    if (this.running) this.kick();
  }

  private clearTimers(term: Term): void {
    clearInterval(term.keepAliveTimer);
    clearTimeout(term.deadlineTimer);
  }

  private async revokeQuietly(lease: string): Promise<void> {
    try {
      await this.client.revokeLease(lease);
    } catch (err) {
      this.log.debug('leadership lease revoke failed (it expires anyway)', { error: errorText(err), lease });
    }
  }

  private ensureWatch(fromRevision: number): void {
    if (this.watchHandle !== undefined) return;
    this.watchHandle = this.client.watch(
      this.key,
      fromRevision,
      (events) => this.onEvents(events),
      (err) => {
        this.log.debug('leadership watch interrupted', { error: err.message });
        void this.reconcile();
      },
    );
  }

  private onEvents(events: WatchEvent[]): void {
    for (const e of events) {
      if (e.kv.key !== this.key) continue;
      const term = this.term;
      if (e.type === 'delete') {
        this.setLeader(null);
        if (term !== undefined) this.depose(term, 'the leader key was deleted');
        else if (this.running) this.kick();
      } else {
        if (
          term !== undefined &&
          (e.kv.createRevision !== term.createRevision || e.kv.value !== this.candidate)
        )
          this.depose(term, 'the leader key was overwritten');
        this.setLeader(e.kv.value);
      }
    }
  }

  /** After a watch gap: reads the key again and acts on what it holds. */
  private async reconcile(): Promise<void> {
    let kv: KeyValue | null;
    try {
      kv = await this.client.get(this.key);
    } catch {
      return;
    }
    if (!this.running) return;
    const term = this.term;
    if (
      term !== undefined &&
      (kv === null || kv.createRevision !== term.createRevision || kv.value !== this.candidate)
    )
      this.depose(term, 'the leader key is gone');
    if (kv === null) {
      this.setLeader(null);
      this.kick();
    } else this.setLeader(kv.value);
  }
}
