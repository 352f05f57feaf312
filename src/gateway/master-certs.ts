/**
 * The gateway master's certificates: the static ones from `tls.certificates` (PEM files, read here and
 * sent to the workers as text) and, with `tls.acme`, the ones ACME obtains. A file that does not load
 * (bad PEM, key not matching, expired) fails the start; on a reload it is refused and the certificate
 * loaded before stays in force.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { type CertificateInfo, loadCertificateFiles } from './cert-files.ts';
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
  issuer?: string;
  notAfter?: string;
  /** When it is renewed (ACME) or needs replacing (static: a third of its lifetime before expiry). */
  renewAt?: string;
  /** The file or the last order failed: what went wrong (the previous certificate, if any, stays). */
  error?: string;
  cert?: string;
}

interface StaticEntry {
  material: CertificateMaterial;
  info: CertificateInfo;
}

export class MasterCertificates {
  readonly #host: CertificatesHost;
  readonly #logger: Logger;
  /** By `cert|key` path: what loaded last (kept when a reload finds the file broken). */
  #static = new Map<string, StaticEntry>();
  #staticErrors = new Map<string, string>();
  tokens: Record<string, string> = {};

  constructor(host: CertificatesHost, logger: Logger) {
    this.#host = host;
    this.#logger = logger;
  }

  /** Static first (default certificate first), then ACME ones. */
  get material(): CertificateMaterial[] {
    const tls = this.#host.settings.tls;
    if (tls === undefined) return [];
    const out: CertificateMaterial[] = [];
    for (const c of tls.certificates) {
      const e = this.#static.get(keyOf(c));
      if (e !== undefined) out.push(e.material);
    }
    return out;
  }

  /**
   * (Re)reads the static certificate files. `fatal`: a broken file throws (start); otherwise it is
   * refused with an error in the log and in `status()`, and what loaded before is kept. Returns the
   * refusals (empty: every file loaded).
   */
  loadStatic(fatal: boolean): string[] {
    const tls = this.#host.settings.tls;
    if (tls === undefined) return [];
    const next = new Map<string, StaticEntry>();
    const errors = new Map<string, string>();
    const now = Date.now();
    for (const c of tls.certificates) {
      const key = keyOf(c);
      try {
        const { certPem, keyPem, info } = loadCertificateFiles(c.cert, c.key, now, readFileSync);
        next.set(key, { material: { hosts: c.hosts, certPem, keyPem, source: 'static' }, info });
      } catch (err) {
        const message = (err as Error).message;
        if (fatal) throw err;
        errors.set(key, message);
        const previous = this.#static.get(key);
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
    return [...errors.values()];
  }

  /** Sends the current set to every worker (resolves once each has it). */
  push(): Promise<void> {
    const certs = this.material;
    return this.#host.workers.askAll(
      (id) => ({ type: 'certs', id, certs }),
      () => {},
    );
  }

  status(): CertificateStatus[] {
    const tls = this.#host.settings.tls;
    if (tls === undefined) return [];
    return tls.certificates.map((c) => {
      const e = this.#static.get(keyOf(c));
      const error = this.#staticErrors.get(keyOf(c));
      const s: CertificateStatus = { hosts: c.hosts, source: 'static', cert: c.cert };
      if (e !== undefined) {
        s.issuer = e.info.issuer;
        s.notAfter = new Date(e.info.notAfter).toISOString();
        s.renewAt = new Date(e.info.notAfter - (e.info.notAfter - e.info.notBefore) / 3).toISOString();
      }
      if (error !== undefined) s.error = error;
      return s;
    });
  }

  // ACME hooks (see acme wiring): the routed hosts, a host a handshake asked for, the timers.
  start(_table: RouteTable): void {}
  routed(_table: RouteTable): void {}
  wanted(_host: string): void {}
  stop(): void {}
}

function keyOf(c: { cert: string; key: string }): string {
  return `${c.cert}|${c.key}`;
}
