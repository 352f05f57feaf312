/**
 * OCSP stapling for the certificates that name a responder: the gateway master fetches each one's OCSP
 * response (once, for every worker), keeps it while it is good, and refreshes it half-way through its
 * validity, so clients asking for the status get it in the handshake instead of asking the CA.
 *
 * Only a `successful` response, correctly signed, saying `good` for this very serial and not expired is
 * stapled. A revoked or unknown certificate, or a responder that fails, staples nothing: stapling is an
 * optimisation, handshakes go on without it. Failures are retried with exponential backoff, one request
 * in flight per certificate, so a responder outage never turns into a storm.
 */
import type { X509Certificate } from 'node:crypto';
import type { Logger } from '../log/logger.ts';
import { fetchOcspResponse } from './ocsp-fetch.ts';
import { type CertId, certIdOf, encodeOcspRequest, issuerInChain } from './ocsp-request.ts';
import { type OcspAnswer, parseOcspResponse } from './ocsp-response.ts';
import { type RetryPolicy, retryDelayMs } from './renewal.ts';

/** A good response is fetched again at this fraction of its thisUpdate..nextUpdate window. */
export const OCSP_REFRESH_AT = 0.5;
/** Never sooner than this after a fetch, even for a response already near its nextUpdate. */
export const OCSP_MIN_REFRESH_MS = 60_000;
/** A response without nextUpdate ("newer information is always available") is fetched again after this. */
export const OCSP_REFRESH_WITHOUT_NEXT_UPDATE_MS = 60 * 60_000;
/** Failed fetches (and `unknown` answers) back off from 30 s doubling to an hour. */
export const OCSP_RETRY_POLICY: RetryPolicy = { floorMs: 30_000, capMs: 60 * 60_000 };
/** setTimeout's limit: a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A certificate that may get a staple; `fingerprint` (SHA-256 of the leaf) is what staples are looked up by. */
export interface StapleTarget {
  fingerprint: string;
  /** Leaf first, then the chain: the issuer is the certificate right after the leaf. */
  certPem: string;
  hosts: readonly string[];
  ocspUrl?: string;
}

export interface OcspStaplerOptions {
  logger: Logger;
  /** A staple appeared, changed or went away (called once for a burst of changes). */
  onChange: () => void;
  /** Jitter source of the backoff. */
  random?: () => number;
  /** Backoff after failures; default OCSP_RETRY_POLICY. */
  retry?: RetryPolicy;
}

interface Entry {
  target: StapleTarget;
  url: string;
  issuer: X509Certificate;
  id: CertId;
  request: Buffer;
  staple?: { der: Buffer; answer: OcspAnswer };
  failures: number;
  fetching: boolean;
  timer?: NodeJS.Timeout;
  expiry?: NodeJS.Timeout;
}

/** When to fetch again after a good answer received at `nowMs`. */
export function refreshDelayMs(nowMs: number, answer: OcspAnswer): number {
  if (answer.nextUpdate === undefined) return OCSP_REFRESH_WITHOUT_NEXT_UPDATE_MS;
  const at = answer.thisUpdate + (answer.nextUpdate - answer.thisUpdate) * OCSP_REFRESH_AT;
  return Math.min(Math.max(at - nowMs, OCSP_MIN_REFRESH_MS), MAX_TIMER_MS);
}

export class OcspStapler {
  readonly #logger: Logger;
  readonly #onChange: () => void;
  readonly #now: () => number = Date.now;
  readonly #random: () => number;
  readonly #retry: RetryPolicy;
  readonly #entries = new Map<string, Entry>();
  /** Fingerprints already reported as impossible to staple (reloads do not repeat it). */
  readonly #reported = new Set<string>();
  #notifyQueued = false;
  #stopped = false;

  constructor(opts: OcspStaplerOptions) {
    this.#logger = opts.logger;
    this.#onChange = opts.onChange;
    this.#random = opts.random ?? Math.random;
    this.#retry = opts.retry ?? OCSP_RETRY_POLICY;
  }

  /** The DER response to staple for the leaf with this SHA-256 fingerprint, if there is a good one. */
  staple(fingerprint: string): Buffer | undefined {
    return this.#entries.get(fingerprint)?.staple?.der;
  }

  /** The certificates in force now: new ones are fetched at once, gone ones forgotten, others untouched. */
  track(targets: readonly StapleTarget[]): void {
    if (this.#stopped) return;
    const wanted = new Map(targets.map((t) => [t.fingerprint, t]));
    for (const [fingerprint, entry] of this.#entries) {
      if (wanted.has(fingerprint)) continue;
      clearTimeout(entry.timer);
      clearTimeout(entry.expiry);
      this.#entries.delete(fingerprint);
    }
    for (const target of wanted.values()) {
      if (target.ocspUrl === undefined || this.#entries.has(target.fingerprint)) continue;
      const entry = this.#entryFor(target, target.ocspUrl);
      if (entry === undefined) continue;
      this.#entries.set(target.fingerprint, entry);
      void this.#refresh(entry);
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.timer);
      clearTimeout(entry.expiry);
    }
    this.#entries.clear();
  }

  #entryFor(target: StapleTarget, url: string): Entry | undefined {
    const fields = { hosts: target.hosts, url };
    if (!/^https?:\/\//i.test(url)) {
      this.#reportOnce(target, 'no OCSP stapling: the responder URL is not http(s)', fields);
      return undefined;
    }
    try {
      const { leaf, issuer } = issuerInChain(target.certPem);
      if (issuer === undefined) {
        this.#reportOnce(
          target,
          'no OCSP stapling: the certificate file has no issuer certificate after the leaf',
          fields,
        );
        return undefined;
      }
      const id = certIdOf(leaf, issuer);
      return { target, url, issuer, id, request: encodeOcspRequest(id), failures: 0, fetching: false };
    } catch (err) {
      this.#reportOnce(target, 'no OCSP stapling: the certificate chain cannot be read', {
        ...fields,
        error: (err as Error).message,
      });
      return undefined;
    }
  }

  async #refresh(entry: Entry): Promise<void> {
    if (entry.fetching) return;
    entry.fetching = true;
    let answer: OcspAnswer;
    let der: Buffer;
    try {
      der = await fetchOcspResponse(entry.url, entry.request);
      answer = parseOcspResponse(der, entry.id, entry.issuer, this.#now());
    } catch (err) {
      this.#failed(entry, (err as Error).message);
      return;
    } finally {
      entry.fetching = false;
    }
    // Forgotten (replaced certificate) or stopped while the request was out.
    if (this.#entries.get(entry.target.fingerprint) !== entry) return;
    const fields = { hosts: entry.target.hosts, url: entry.url };
    if (answer.status === 'good') {
      entry.failures = 0;
      const changed = entry.staple === undefined || !entry.staple.der.equals(der);
      entry.staple = { der, answer };
      this.#expireAt(entry, answer.nextUpdate);
      if (changed) {
        this.#logger.info('ocsp staple updated', {
          ...fields,
          thisUpdate: new Date(answer.thisUpdate).toISOString(),
          nextUpdate: answer.nextUpdate === undefined ? undefined : new Date(answer.nextUpdate).toISOString(),
        });
        this.#notify();
      }
      this.#schedule(entry, refreshDelayMs(this.#now(), answer));
      return;
    }
    this.#drop(entry);
    if (answer.status === 'revoked') {
      this.#logger.error('certificate revoked according to its OCSP responder; not stapled', {
        ...fields,
        revokedAt: answer.revokedAt === undefined ? undefined : new Date(answer.revokedAt).toISOString(),
      });
      entry.failures = 0;
      this.#schedule(entry, refreshDelayMs(this.#now(), answer));
      return;
    }
    this.#failed(entry, 'the responder does not know the certificate (status unknown)');
  }

  /** A failed fetch keeps a staple that is still valid; the next attempt is backed off. */
  #failed(entry: Entry, error: string): void {
    if (this.#entries.get(entry.target.fingerprint) !== entry) return;
    entry.failures++;
    const delay = retryDelayMs(entry.failures, this.#random, this.#retry);
    const keeping = entry.staple !== undefined;
    this.#logger.error('ocsp response not usable; no new staple', {
      hosts: entry.target.hosts,
      url: entry.url,
      error,
      failures: entry.failures,
      retryInMs: delay,
      keepingStaple: keeping,
    });
    this.#schedule(entry, delay);
  }

  #schedule(entry: Entry, delayMs: number): void {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => void this.#refresh(entry), delayMs);
    entry.timer.unref();
  }

  /** A staple past its nextUpdate must not be served even if no fresh one could be had. */
  #expireAt(entry: Entry, nextUpdate: number | undefined): void {
    clearTimeout(entry.expiry);
    if (nextUpdate === undefined) return;
    entry.expiry = setTimeout(
      () => {
        // A nextUpdate beyond setTimeout's range fires early: look again later.
        if (nextUpdate > this.#now()) return this.#expireAt(entry, nextUpdate);
        this.#logger.warn('ocsp staple expired before a fresh one came; not stapled', {
          hosts: entry.target.hosts,
          url: entry.url,
        });
        this.#drop(entry);
      },
      Math.min(Math.max(nextUpdate - this.#now(), 0), MAX_TIMER_MS),
    );
    entry.expiry.unref();
  }

  #drop(entry: Entry): void {
    clearTimeout(entry.expiry);
    if (entry.staple === undefined) return;
    entry.staple = undefined;
    this.#notify();
  }

  #notify(): void {
    if (this.#notifyQueued) return;
    this.#notifyQueued = true;
    queueMicrotask(() => {
      this.#notifyQueued = false;
      if (!this.#stopped) this.#onChange();
    });
  }

  #reportOnce(target: StapleTarget, msg: string, fields: Record<string, unknown>): void {
    if (this.#reported.has(target.fingerprint)) return;
    this.#reported.add(target.fingerprint);
    this.#logger.warn(msg, fields);
  }
}
