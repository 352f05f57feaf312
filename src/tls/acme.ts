/**
 * Automatic certificates for a set of hosts: issue what is missing, renew at a third of the lifetime
 * left, back off after failures. At most one order per host is ever in flight (concurrent callers
 * share it), and a host in back-off is answered from memory, never by asking the CA again: a gateway
 * receiving a burst of handshakes for a failing host must not turn it into a burst of orders.
 */
import { X509Certificate } from 'node:crypto';
import type { Client } from 'acme-client';
import type { Logger } from '../log/logger.ts';
import { openAccount, type PollPolicy } from './acme-account.ts';
import { type ChallengeResponder, orderCertificate } from './acme-order.ts';
import { type AcmeScope, scopeAcmeRequests } from './acme-scope.ts';
import type { CertStore } from './cert-store.ts';
import { type CertificateInfo, coversHost, inspectCertificate, normalizeHost } from './certificate.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, renewAt, retryDelayMs } from './renewal.ts';

export type { ChallengeResponder } from './acme-order.ts';

/** Orders the renewal timer starts at once; the rest wait for one of them to finish. */
export const MAX_PARALLEL_ORDERS = 4;
/** The renewal timer wakes at least this often (node timers cannot wait for 60 days). */
export const MAX_TIMER_MS = 60 * 60_000;
/** ...and at most this often, so a clock glitch cannot spin it. */
export const MIN_TIMER_MS = 100;
export const DEFAULT_POLL: PollPolicy = { minMs: 1000, maxMs: 10_000, attempts: 12 };

export interface IssuedCertificate {
  host: string;
  /** Leaf first, then intermediates. */
  certPem: string;
  keyPem: string;
  info: CertificateInfo;
  /** 'ca': just issued; 'store': loaded from disk. */
  source: 'ca' | 'store';
}

export interface AcmeHostStatus {
  host: string;
  state: 'valid' | 'ordering' | 'failed';
  notAfter?: number;
  renewAt?: number;
  lastError?: string;
  /** Failed orders in a row (0 after a success). */
  failures: number;
  /** When the timer (or an `ensure`) may try again after a failure. */
  nextAttemptAt?: number;
}

export interface AcmeManagerOptions {
  /** The CA's ACME directory URL (https). */
  directory: string;
  /** Account contact; '' registers without one. */
  email: string;
  /** PEM of a CA trusted (instead of the system roots) for the ACME server's own HTTPS only. */
  caCert?: string;
  store: CertStore;
  responder: ChallengeResponder;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  /** Back-off between failed orders; default 1 min doubling to 6 h. */
  retry?: RetryPolicy;
  /** Polling of order and challenge status; default 1 s doubling to 10 s, 12 polls. */
  poll?: PollPolicy;
  onIssued?: (host: string, issued: IssuedCertificate) => void;
  onFailed?: (host: string, error: Error) => void;
}

interface Flight {
  promise: Promise<IssuedCertificate>;
  /** False while only the store is being read. */
  ordering: boolean;
  /** Order even if the store has a usable certificate (a `renew` joined or started the flight). */
  force: boolean;
}

interface HostState {
  host: string;
  loaded: boolean;
  current?: IssuedCertificate;
  flight?: Flight;
  failures: number;
  lastError?: Error;
  nextAttemptAt?: number;
}

const DNS_NAME = /^(?!-)[a-z0-9-]{1,63}(?:\.(?!-)[a-z0-9-]{1,63})+$/;

export class AcmeManager {
  readonly #opts: AcmeManagerOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #retry: RetryPolicy;
  readonly #poll: PollPolicy;
  readonly #log: Logger;
  readonly #hosts = new Map<string, HostState>();
  #managed = new Set<string>();
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #client: Promise<Client> | undefined;
  #scope: Promise<AcmeScope> | undefined;

  constructor(opts: AcmeManagerOptions) {
    validateOptions(opts);
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#retry = opts.retry ?? DEFAULT_RETRY_POLICY;
    this.#poll = opts.poll ?? DEFAULT_POLL;
    this.#log = opts.logger.child({ component: 'acme' });
  }

  /**
   * A usable certificate for `host`: the one in memory or in the store while it is not expired
   * (a renewal due starts in the background), else a new order. Concurrent calls share one order;
   * a host in back-off rejects at once with its last error.
   */
  ensure(host: string): Promise<IssuedCertificate> {
    let st: HostState;
    try {
      st = this.#state(host);
    } catch (err) {
      return Promise.reject(err);
    }
    if (st.flight !== undefined) return st.flight.promise;
    if (st.loaded) {
      const usable = this.#usable(st);
      if (usable !== undefined) {
        if (this.#dueAt(st) <= this.#now()) this.#background(st);
        return Promise.resolve(usable);
      }
      if (this.#inBackoff(st)) return Promise.reject(st.lastError);
    }
    return this.#launch(st, false);
  }

  /** A new certificate for `host` now, whatever the current one and the back-off; still one order at a time. */
  renew(host: string): Promise<IssuedCertificate> {
    let st: HostState;
    try {
      st = this.#state(host);
    } catch (err) {
      return Promise.reject(err);
    }
    const flight = st.flight;
    if (flight !== undefined) {
      // Still reading the store: the flight will order. Already ordering: the new certificate is ours too.
      flight.force = true;
      return flight.promise;
    }
    return this.#launch(st, true);
  }

  status(): AcmeHostStatus[] {
    const out: AcmeHostStatus[] = [];
    for (const st of [...this.#hosts.values()].sort((a, b) => a.host.localeCompare(b.host))) {
      const state = st.flight?.ordering
        ? 'ordering'
        : st.failures > 0
          ? 'failed'
          : st.current
            ? 'valid'
            : undefined;
      if (state === undefined) continue;
      const s: AcmeHostStatus = { host: st.host, state, failures: st.failures };
      if (st.current !== undefined) {
        s.notAfter = st.current.info.notAfter;
        s.renewAt = renewAt(st.current.info.notBefore, st.current.info.notAfter);
      }
      if (st.lastError !== undefined) s.lastError = st.lastError.message;
      if (st.nextAttemptAt !== undefined) s.nextAttemptAt = st.nextAttemptAt;
      out.push(s);
    }
    return out;
  }

  /**
   * Manages `hosts` (replacing an earlier set): loads their stored certificates (`onIssued` with
   * source 'store' for each usable one), then keeps them issued and renewed on a timer. Resolves
   * once the stored certificates are loaded; orders run in the background.
   */
  async start(hosts: readonly string[]): Promise<void> {
    const states = hosts.map((h) => this.#state(h));
    const fresh = states.filter((st) => !this.#managed.has(st.host));
    this.#managed = new Set(states.map((st) => st.host));
    this.#running = true;
    await Promise.all(states.map((st) => this.#loadOnce(st)));
    for (const st of fresh) {
      const usable = this.#usable(st);
      if (usable !== undefined && st.flight === undefined) this.#emitIssued(usable);
    }
    this.#tick();
  }

  /** Stops the timer and waits for orders in flight to settle. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const flights = [...this.#hosts.values()].flatMap((st) => (st.flight ? [st.flight.promise] : []));
    await Promise.allSettled(flights);
    await this.#scope?.then((s) => s.close());
    this.#scope = undefined;
    this.#client = undefined;
  }

  #state(host: string): HostState {
    const name = normalizeHost(host);
    if (!DNS_NAME.test(name)) {
      throw new Error(
        `acme: ${JSON.stringify(host)} is not a host name an http-01 certificate can be issued for`,
      );
    }
    let st = this.#hosts.get(name);
    if (st === undefined) {
      st = { host: name, loaded: false, failures: 0 };
      this.#hosts.set(name, st);
    }
    return st;
  }

  #usable(st: HostState): IssuedCertificate | undefined {
    const cur = st.current;
    return cur !== undefined && cur.info.notAfter > this.#now() ? cur : undefined;
  }

  #inBackoff(st: HostState): boolean {
    return st.failures > 0 && st.nextAttemptAt !== undefined && this.#now() < st.nextAttemptAt;
  }

  /** When the host next needs an order: after a failure its back-off, else its renewal time, else now. */
  #dueAt(st: HostState): number {
    if (st.failures > 0 && st.nextAttemptAt !== undefined) return st.nextAttemptAt;
    if (st.current !== undefined) return renewAt(st.current.info.notBefore, st.current.info.notAfter);
    return this.#now();
  }

  #launch(st: HostState, force: boolean): Promise<IssuedCertificate> {
    const { promise, resolve, reject } = Promise.withResolvers<IssuedCertificate>();
    const flight: Flight = { ordering: false, force, promise };
    st.flight = flight;
    // The flight is cleared before its callers resume, so a `renew` right after an awaited `ensure`
    // starts a new order instead of joining the finished one.
    const land = () => {
      if (st.flight === flight) st.flight = undefined;
      if (this.#running) setImmediate(() => this.#tick());
    };
    this.#fly(st, flight).then(
      (issued) => {
        land();
        resolve(issued);
      },
      (err: unknown) => {
        land();
        reject(err);
      },
    );
    return promise;
  }

  async #fly(st: HostState, flight: Flight): Promise<IssuedCertificate> {
    await this.#loadOnce(st);
    if (!flight.force) {
      const usable = this.#usable(st);
      // Decided without an order: leave the flight now, so that a `renew` arriving before the
      // callers resume starts its own order rather than joining this answer.
      if (usable !== undefined || this.#inBackoff(st)) {
        if (st.flight === flight) st.flight = undefined;
        if (usable !== undefined) return usable;
        throw st.lastError;
      }
    }
    flight.ordering = true;
    return this.#order(st);
  }

  /** Starts a renewal whose failure is reported through onFailed and the status, not to a caller. */
  #background(st: HostState): void {
    this.#launch(st, true).catch(() => {});
  }

  async #loadOnce(st: HostState): Promise<void> {
    if (st.loaded) return;
    try {
      const stored = await this.#opts.store.load(st.host);
      if (stored !== undefined) {
        const info = inspectCertificate(stored.certPem, stored.keyPem, this.#now());
        if (coversHost(info.hosts, st.host)) {
          st.current = {
            host: st.host,
            certPem: stored.certPem,
            keyPem: stored.keyPem,
            info,
            source: 'store',
          };
        } else {
          this.#log.warn('stored certificate does not cover its host', { host: st.host, hosts: info.hosts });
        }
      }
    } catch (err) {
      // An unusable stored certificate (expired, damaged) is replaced by a new order.
      this.#log.warn('stored certificate not usable', { host: st.host, error: (err as Error).message });
    }
    st.loaded = true;
  }

  async #order(st: HostState): Promise<IssuedCertificate> {
    const host = st.host;
    this.#log.info('certificate order started', { host, failures: st.failures });
    try {
      const client = await this.#account();
      const ordered = await orderCertificate(client, host, this.#opts.responder, this.#log);
      const info = inspectCertificate(ordered.certPem, ordered.keyPem, this.#now());
      if (!coversHost(info.hosts, host)) {
        throw new Error(`acme order for ${host}: the CA issued a certificate for ${info.hosts.join(', ')}`);
      }
      await this.#opts.store.save(host, ordered.certPem, ordered.keyPem);
      const issued: IssuedCertificate = { host, ...ordered, info, source: 'ca' };
      st.current = issued;
      st.failures = 0;
      st.lastError = undefined;
      st.nextAttemptAt = undefined;
      this.#log.info('certificate issued', {
        host,
        serial: info.serialNumber,
        notAfter: new Date(info.notAfter).toISOString(),
        renewAt: new Date(renewAt(info.notBefore, info.notAfter)).toISOString(),
      });
      this.#emitIssued(issued);
      return issued;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      st.failures += 1;
      st.lastError = error;
      st.nextAttemptAt = this.#now() + retryDelayMs(st.failures, this.#random, this.#retry);
      this.#log.warn('certificate order failed', {
        host,
        failures: st.failures,
        error: error.message,
        nextAttemptAt: new Date(st.nextAttemptAt).toISOString(),
      });
      this.#emitFailed(host, error);
      throw error;
    }
  }

  /** The account client, opened once; a failure is not cached, so the next order tries again. */
  #account(): Promise<Client> {
    if (this.#client === undefined) {
      this.#scope ??= scopeAcmeRequests(this.#opts.directory, this.#opts.caCert);
      // The scope's interceptor must be in place before the account's first request.
      const opening = this.#scope.then(() =>
        openAccount({
          directory: this.#opts.directory,
          email: this.#opts.email,
          store: this.#opts.store,
          logger: this.#log,
          poll: this.#poll,
        }),
      );
      this.#client = opening;
      opening.catch(() => {
        if (this.#client === opening) this.#client = undefined;
      });
    }
    return this.#client;
  }

  #tick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#running) return;
    const now = this.#now();
    let ordering = 0;
    for (const st of this.#hosts.values()) if (st.flight !== undefined) ordering += 1;
    let next = Number.POSITIVE_INFINITY;
    for (const host of this.#managed) {
      const st = this.#hosts.get(host);
      if (st === undefined || st.flight !== undefined) continue;
      const due = this.#dueAt(st);
      if (due <= now && ordering < MAX_PARALLEL_ORDERS) {
        ordering += 1;
        this.#background(st);
      } else if (due > now) {
        next = Math.min(next, due);
      }
    }
    // Hosts over the parallel limit are picked up when a running order finishes (#launch ticks).
    if (next === Number.POSITIVE_INFINITY) return;
    const delay = Math.min(Math.max(next - now, MIN_TIMER_MS), MAX_TIMER_MS);
    this.#timer = setTimeout(() => this.#tick(), delay);
    this.#timer.unref();
  }

  #emitIssued(issued: IssuedCertificate): void {
    try {
      this.#opts.onIssued?.(issued.host, issued);
    } catch (err) {
      this.#log.error('onIssued callback threw', { host: issued.host, error: String(err) });
    }
  }

  #emitFailed(host: string, error: Error): void {
    try {
      this.#opts.onFailed?.(host, error);
    } catch (err) {
      this.#log.error('onFailed callback threw', { host, error: String(err) });
    }
  }
}

function validateOptions(opts: AcmeManagerOptions): void {
  let url: URL;
  try {
    url = new URL(opts.directory);
  } catch {
    throw new Error(`acme directory ${JSON.stringify(opts.directory)}: not a URL`);
  }
  if (url.protocol !== 'https:') throw new Error(`acme directory ${opts.directory}: must be an https:// URL`);
  if (opts.email !== '' && !/^[^\s@]+@[^\s@]+$/.test(opts.email)) {
    throw new Error(`acme email ${JSON.stringify(opts.email)}: not an email address`);
  }
  if (opts.caCert !== undefined) {
    try {
      new X509Certificate(opts.caCert);
    } catch {
      throw new Error('acme caCert: not a PEM certificate');
    }
  }
  for (const [name, policy] of [
    ['retry', opts.retry],
    ['poll', opts.poll],
  ] as const) {
    if (policy === undefined) continue;
    for (const [k, v] of Object.entries(policy)) {
      if (!Number.isFinite(v) || v <= 0) throw new Error(`acme ${name}.${k}: must be a positive number`);
    }
  }
}
