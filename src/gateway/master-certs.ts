/**
 * The gateway master's certificates: the static ones from `tls.certificates` (PEM files, read here and
 * sent to the workers as text) and, with `tls.acme`, automatic ones for every routed host they do not
 * cover. ACME runs here, in the one master, so there is one order per host however many workers see
 * handshakes for it (src/tls/acme.ts single-flights and backs off). HTTP-01 tokens are published to every
 * worker (and acknowledged) before the CA is told to validate.
 *
 * Certificates naming an OCSP responder get their response fetched here too (src/tls/ocsp.ts) and sent
 * with the certificate (`ocsp`); a staple that changes is pushed like a new certificate.
 *
 * A static file that does not load (bad PEM, key not matching, expired) fails the start; on a reload it
 * is refused and the certificate loaded before stays. A host whose ACME order fails keeps what it had.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../log/logger.ts';
import { AcmeManager, type IssuedCertificate } from '../tls/acme.ts';
import { CertStore } from '../tls/cert-store.ts';
import { type CertificateInfo, coversHost, loadCertificateFiles } from '../tls/certificate.ts';
import { OcspStapler } from '../tls/ocsp.ts';
import { renewAt } from '../tls/renewal.ts';
import type { Workers } from './generation.ts';
import type { CertificateMaterial, GatewaySettings, RouteTable } from './protocol.ts';

/** What the certificates need of their master. */
export interface CertificatesHost {
  readonly settings: GatewaySettings;
  readonly workers: Workers;
}

/** One certificate as `cutover certs` shows it. */
export interface CertificateStatus {
  hosts: string[];
  source: 'static' | 'acme';
  /** ACME: valid, ordering (an order is in progress) or failed (the last one failed). */
  state?: 'valid' | 'ordering' | 'failed';
  issuer?: string;
  notAfter?: string;
  /** When it is renewed (ACME) or needs replacing (static: a third of its lifetime before expiry). */
  renewAt?: string;
  /** The file or the last order failed: what went wrong (the previous certificate, if any, stays). */
  error?: string;
  /** ACME: failed orders in a row, and when the next attempt may run. */
  failures?: number;
  nextAttemptAt?: string;
  /** Static: the certificate file. */
  cert?: string;
  /** For a certificate naming an OCSP responder: whether a good response is stapled now (else see the log). */
  ocspStapled?: boolean;
}

interface StaticEntry {
  material: CertificateMaterial;
  info: CertificateInfo;
}

const HOSTNAME_RE = /^(?!-)[a-z0-9-]{1,63}(?:\.(?!-)[a-z0-9-]{1,63})+$/;

export class MasterCertificates {
  readonly #host: CertificatesHost;
  readonly #logger: Logger;
  /** By `cert|key` path: what loaded last (kept when a reload finds the file broken). */
  #static = new Map<string, StaticEntry>();
  #staticErrors = new Map<string, string>();
  #acme: AcmeManager | null = null;
  /** ACME certificates in force, by host. */
  readonly #issued = new Map<string, { material: CertificateMaterial; info: CertificateInfo }>();
  /** Hosts ACME manages: routed, a DNS name, not covered by a static certificate. */
  #acmeHosts: string[] = [];
  tokens: Record<string, string> = {};
  readonly #stapler: OcspStapler;

  constructor(host: CertificatesHost, logger: Logger) {
    this.#host = host;
    this.#logger = logger;
    this.#stapler = new OcspStapler({ logger, onChange: () => void this.push() });
  }

  /** Static first (in config order, the default first), then ACME ones; each with its OCSP staple if any. */
  get material(): CertificateMaterial[] {
    const tls = this.#host.settings.tls;
    if (tls === undefined) return [];
    return this.#entries().map((e) => {
      const staple = this.#stapler.staple(e.info.fingerprint256);
      return staple === undefined ? e.material : { ...e.material, ocsp: staple.toString('base64') };
    });
  }

  /** Static first (in config order), then ACME ones. */
  #entries(): StaticEntry[] {
    const out: StaticEntry[] = [];
    for (const c of this.#host.settings.tls?.certificates ?? []) {
      const e = this.#static.get(keyOf(c));
      if (e !== undefined) out.push(e);
    }
    out.push(...this.#issued.values());
    return out;
  }

  /** The certificates in force changed: the stapler fetches for new ones and forgets gone ones. */
  #trackStaples(): void {
    this.#stapler.track(
      this.#entries().map((e) => ({
        fingerprint: e.info.fingerprint256,
        certPem: e.material.certPem,
        hosts: e.material.hosts,
        ocspUrl: e.info.ocspUrl,
      })),
    );
  }

  /**
   * (Re)reads the static certificate files. `fatal`: a broken file throws (start); otherwise it is
   * refused with an error in the log and in `status()`, and what loaded before is kept. Returns the errors.
   */
  async loadStatic(fatal: boolean): Promise<string[]> {
    const tls = this.#host.settings.tls;
    if (tls === undefined) return [];
    const next = new Map<string, StaticEntry>();
    const errors = new Map<string, string>();
    const now = Date.now();
    for (const c of tls.certificates) {
      const key = keyOf(c);
      try {
        const { certPem, keyPem, info } = await loadCertificateFiles(c.cert, c.key, now);
        next.set(key, { material: { hosts: c.hosts, certPem, keyPem, source: 'static' }, info });
      } catch (err) {
        const message = (err as Error).message;
        if (fatal) throw err;
        errors.set(key, message);
        // The same files as before, or (a changed path in the config) the certificate that served these hosts.
        const previous = this.#static.get(key) ?? this.#staticFor(c.hosts);
        if (previous !== undefined) next.set(key, previous);
        this.#logger.error('certificate refused; the one loaded before stays in force', {
          hosts: c.hosts,
          error: message,
          kept: previous !== undefined,
        });
      }
    }
    this.#static = next;
    this.#staticErrors = errors;
    this.#trackStaples();
    return [...errors.values()];
  }

  #staticFor(hosts: string[]): StaticEntry | undefined {
    const want = hosts.join(',');
    for (const e of this.#static.values()) if (e.material.hosts.join(',') === want) return e;
    return undefined;
  }

  /** Sends the current set to every worker (resolves once each has it). */
  push(): Promise<void> {
    const certs = this.material;
    return this.#host.workers
      .askAll(
        (id) => ({ type: 'certs', id, certs }),
        () => {},
      )
      .catch((err: Error) =>
        this.#logger.warn('certificates not pushed to every worker', { error: err.message }),
      );
  }

  #pushTokens(): Promise<void> {
    const tokens = this.tokens;
    return this.#host.workers.askAll(
      (id) => ({ type: 'challenges', id, tokens }),
      () => {},
    );
  }

  /** The master serves: ACME (if configured) starts managing the routed hosts. */
  start(table: RouteTable): void {
    const acme = this.#host.settings.tls?.acme;
    if (acme === undefined) return;
    void this.#startAcme(acme, table);
  }

  async #startAcme(
    acme: NonNullable<NonNullable<GatewaySettings['tls']>['acme']>,
    table: RouteTable,
  ): Promise<void> {
    try {
      const caCert = acme.caCert === undefined ? undefined : await readFile(acme.caCert, 'utf8');
      this.#acme = new AcmeManager({
        directory: acme.directory,
        email: acme.email,
        ...(caCert === undefined ? {} : { caCert }),
        store: new CertStore(this.#host.settings.tls!.certDir),
        responder: {
          publish: async (token, keyAuthorization) => {
            this.tokens = { ...this.tokens, [token]: keyAuthorization };
            await this.#pushTokens();
          },
          withdraw: async (token) => {
            const { [token]: _gone, ...rest } = this.tokens;
            this.tokens = rest;
            await this.#pushTokens();
          },
        },
        logger: this.#logger,
        onIssued: (host, issued) => this.#use(host, issued),
        onFailed: (host, error) => {
          this.#logger.error('certificate order failed; the host keeps the certificate it had', {
            host,
            error: error.message,
          });
          // Handshakes waiting for this host go on with what there is.
          void this.push();
        },
      });
    } catch (err) {
      this.#logger.error('acme cannot start', { error: (err as Error).message });
      return;
    }
    this.routed(table);
  }

  #use(host: string, issued: IssuedCertificate): void {
    this.#issued.set(host, {
      material: { hosts: [host], certPem: issued.certPem, keyPem: issued.keyPem, source: 'acme' },
      info: issued.info,
    });
    this.#trackStaples();
    void this.push();
  }

  /** A new route table: ACME manages its hosts (the ones no static certificate covers). */
  routed(table: RouteTable): void {
    if (this.#acme === null) return;
    const staticHosts = (this.#host.settings.tls?.certificates ?? []).flatMap((c) => c.hosts);
    const hosts = [...new Set(table.services.map((s) => s.host.toLowerCase()))]
      .filter((h) => HOSTNAME_RE.test(h) && !coversHost(staticHosts, h))
      .sort();
    if (hosts.join(',') === this.#acmeHosts.join(',')) return;
    this.#acmeHosts = hosts;
    this.#acme
      .start(hosts)
      .catch((err: Error) => this.#logger.error('acme start failed', { error: err.message }));
  }

  /** A handshake named `host` and nothing covers it: order now if it is an ACME host (shared, backed off). */
  wanted(host: string): void {
    const name = host.toLowerCase();
    if (this.#acme === null || !this.#acmeHosts.includes(name)) {
      // Not ours to get: let the waiting handshake go on with the default certificate.
      void this.push();
      return;
    }
    this.#acme.ensure(name).then(
      (issued) => this.#use(name, issued),
      () => void this.push(),
    );
  }

  /** A forced renewal (ACME hosts only); resolves once every worker serves the new certificate. */
  async renew(host: string): Promise<CertificateStatus> {
    const name = host.toLowerCase();
    if (this.#acme === null || !this.#acmeHosts.includes(name)) {
      throw Object.assign(
        new Error(
          `no ACME certificate for ${host}: only routed hosts without a static certificate are renewed`,
        ),
        { status: 404 },
      );
    }
    const issued = await this.#acme.renew(name);
    this.#use(name, issued);
    await this.push();
    return this.status().find((s) => s.source === 'acme' && s.hosts[0] === name)!;
  }

  status(): CertificateStatus[] {
    const tls = this.#host.settings.tls;
    if (tls === undefined) return [];
    const out: CertificateStatus[] = tls.certificates.map((c) => {
      const e = this.#static.get(keyOf(c));
      const error = this.#staticErrors.get(keyOf(c));
      const s: CertificateStatus = { hosts: c.hosts, source: 'static', cert: c.cert };
      if (e !== undefined) {
        s.issuer = e.info.issuer;
        s.notAfter = new Date(e.info.notAfter).toISOString();
        s.renewAt = new Date(renewAt(e.info.notBefore, e.info.notAfter)).toISOString();
        this.#ocspStatus(s, e);
      }
      s.state = error === undefined ? 'valid' : 'failed';
      if (error !== undefined) s.error = error;
      return s;
    });
    const acme = new Map((this.#acme?.status() ?? []).map((a) => [a.host, a]));
    for (const host of this.#acmeHosts) {
      const a = acme.get(host);
      const e = this.#issued.get(host);
      const s: CertificateStatus = { hosts: [host], source: 'acme', state: a?.state ?? 'ordering' };
      if (e !== undefined) {
        s.issuer = e.info.issuer;
        s.notAfter = new Date(e.info.notAfter).toISOString();
        s.renewAt = new Date(renewAt(e.info.notBefore, e.info.notAfter)).toISOString();
        this.#ocspStatus(s, e);
      }
      if (a?.lastError !== undefined) s.error = a.lastError;
      if (a !== undefined && a.failures > 0) s.failures = a.failures;
      if (a?.nextAttemptAt !== undefined) s.nextAttemptAt = new Date(a.nextAttemptAt).toISOString();
      out.push(s);
    }
    return out;
  }

  #ocspStatus(s: CertificateStatus, e: StaticEntry): void {
    if (e.info.ocspUrl !== undefined)
      s.ocspStapled = this.#stapler.staple(e.info.fingerprint256) !== undefined;
  }

  stop(): void {
    this.#stapler.stop();
    void this.#acme?.stop();
  }
}

function keyOf(c: { cert: string; key: string }): string {
  return `${c.cert}|${c.key}`;
}
