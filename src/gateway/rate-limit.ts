/**
 * `limits.rate` in a worker: a request spends a token of its key's bucket. Tokens come from the
 * master's buckets (rate-bucket.ts) in batches and are spent here without asking; a request that
 * finds none waits for the master's answer in arrival order. When the bucket is empty the request
 * gets 429 with Retry-After and the RateLimit-Policy / RateLimit fields of the IETF draft
 * (draft-ietf-httpapi-ratelimit-headers), and is counted as limited, not as an error of its revision.
 */
import { formatRequestKey } from '../config/request-key.ts';
import type { RequestKey } from '../config/types.ts';
import type { LimitSource } from './limit-source.ts';
import { RATE_SWEEP_MS } from './rate-broker.ts';
import { type Grant, type RateParams, rateSignature } from './rate-bucket.ts';
import { type KeyReader, keyReader } from './request-key.ts';
import type { RevisionCounters } from './stats.ts';
import { fnv1a32, type RequestHeaders } from './traffic.ts';
import { clientAddress } from './trust.ts';

/** What the limiter needs of a request (an Exchange). */
export interface RateLimited {
  readonly finished: boolean;
  sendLimited(
    status: number,
    body: string,
    retryAfterSeconds: number,
    extra?: readonly string[],
    close?: boolean,
  ): void;
}

export interface RatePolicy extends RateParams {
  key: RequestKey;
}

/** The bucket of requests without the key (no such header, cookie or parameter): they share one. */
const NO_KEY = '-';
/** Longer keys are hashed: a client must not make the gateway keep kilobytes per key. */
const MAX_KEY_LENGTH = 128;
/** Tokens a worker holds for a key nobody used for this long go back to the master's bucket. */
const LEASE_IDLE_MS = 1000;

interface Waiter {
  ex: RateLimited;
  counters: RevisionCounters;
  go: () => void;
}

interface Lease {
  tokens: number;
  usedAt: number;
  /** The master said the bucket is empty until then: turn away without asking. */
  emptyUntil: number;
  asking: boolean;
  waiting: Waiter[];
}

export class RateLimiter {
  /** The policy set in the master: service and policy (buckets survive tables that keep the policy). */
  readonly set: string;
  readonly params: RateParams;
  /** `ip`, `header`, `cookie`, `query` or `route`: the key class in metrics. */
  readonly keyClass: string;
  readonly #reader: KeyReader | null;
  readonly #byIp: boolean;
  readonly #trusted: (peer: string | undefined) => boolean;
  readonly #source: LimitSource;
  readonly #leases = new Map<string, Lease>();
  readonly #headers: string[];
  readonly #body: string;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    service: string,
    policy: RatePolicy,
    source: LimitSource,
    trusted: (peer: string | undefined) => boolean,
  ) {
    this.params = { requests: policy.requests, perMs: policy.perMs, burst: policy.burst };
    this.set = `${service}|${rateSignature(this.params)}|${formatRequestKey(policy.key)}`;
    this.keyClass = policy.key.source;
    this.#reader = keyReader(policy.key);
    this.#byIp = policy.key.source === 'ip';
    this.#trusted = trusted;
    this.#source = source;
    // The draft's quota over a whole-second window: `requests` per `per`, scaled when `per` is not whole.
    const w = Math.max(1, Math.round(policy.perMs / 1000));
    const q = Math.max(1, Math.round((policy.requests * w * 1000) / policy.perMs));
    const name = JSON.stringify(service);
    this.#headers = ['ratelimit-policy', `${name};q=${q};w=${w}`, 'ratelimit', name];
    this.#body = `cutover: rate limit of service ${name} reached (${policy.requests} requests per ${policy.perMs} ms, burst ${policy.burst}, by ${this.keyClass})\n`;
  }

  /** The bucket key of a request. */
  keyOf(headers: RequestHeaders, target: string, peer: string | undefined): string {
    const read = this.#reader;
    if (read === null) return '';
    const addr = this.#byIp ? clientAddress(peer, headers['x-forwarded-for'], this.#trusted) : peer;
    const k = read(headers, target, addr);
    if (k === undefined || k === '') return NO_KEY;
    return k.length > MAX_KEY_LENGTH ? `#${fnv1a32(k).toString(36)}.${k.length}` : k;
  }

  /** Spends a token this worker holds: true when the request may go on at once. */
  take(key: string, now: number): boolean {
    const l = this.#leases.get(key);
    if (l === undefined || l.tokens < 1 || l.waiting.length > 0) return false;
    l.tokens--;
    l.usedAt = now;
    return true;
  }

  /** No token here: wait for the master's answer, or 429 at once when the bucket is known to be empty. */
  wait(key: string, ex: RateLimited, counters: RevisionCounters, go: () => void, now: number): void {
    let l = this.#leases.get(key);
    if (l === undefined) {
      l = { tokens: 0, usedAt: now, emptyUntil: 0, asking: false, waiting: [] };
      this.#leases.set(key, l);
      this.#timer ??= setInterval(() => this.#sweep(Date.now()), RATE_SWEEP_MS).unref();
    }
    if (l.emptyUntil > now && l.waiting.length === 0) {
      this.#turnAway(ex, counters, l.emptyUntil - now);
      return;
    }
    l.waiting.push({ ex, counters, go });
    if (!l.asking) this.#ask(key, l);
  }

  /** The policy was changed or removed: unspent tokens go back. */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const [key, l] of this.#leases) {
      if (l.tokens >= 1 && !l.asking) this.#source.giveBack(this.set, this.params, key, Math.floor(l.tokens));
    }
    this.#leases.clear();
  }

  #ask(key: string, l: Lease): void {
    l.asking = true;
    this.#source.take(this.set, this.params, key, l.waiting.length, (g) => this.#granted(l, key, g));
  }

  #granted(l: Lease, key: string, g: Grant): void {
    l.asking = false;
    const now = Date.now();
    l.tokens += g.granted;
    l.usedAt = now;
    const w = l.waiting;
    while (w.length > 0 && l.tokens >= 1) {
      const next = w.shift()!;
      // A client that left is not served and spends nothing.
      if (next.ex.finished) continue;
      l.tokens--;
      next.go();
    }
    while (w.length > 0 && w[0].ex.finished) w.shift();
    if (w.length === 0) return;
    if (g.granted > 0) {
      this.#ask(key, l);
      return;
    }
    l.emptyUntil = now + g.retryAfterMs;
    for (const x of w.splice(0)) if (!x.ex.finished) this.#turnAway(x.ex, x.counters, g.retryAfterMs);
  }

  #turnAway(ex: RateLimited, counters: RevisionCounters, retryAfterMs: number): void {
    counters.limitedRate++;
    counters.rateKey = this.keyClass;
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const h = this.#headers;
    ex.sendLimited(429, this.#body, seconds, [h[0], h[1], h[2], `${h[3]};r=0;t=${seconds}`]);
  }

  #sweep(now: number): void {
    for (const [key, l] of this.#leases) {
      if (l.asking || l.waiting.length > 0 || now - l.usedAt < LEASE_IDLE_MS) continue;
      if (l.tokens >= 1) this.#source.giveBack(this.set, this.params, key, Math.floor(l.tokens));
      this.#leases.delete(key);
    }
    if (this.#leases.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}
