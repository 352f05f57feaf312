/**
 * Watches the gateway's certificates (static files and ACME) so that what happens to them is where an
 * operator looks: an event and a notification (`certificate-failed`) when one fails (a refused file, an
 * ACME order that did not go through), an event when one is issued or renewed, and the latest state for
 * `status` and `/metrics`. The gateway owns the certificates; this only reads them.
 */
import type { ServiceConfig } from '../config/types.ts';
import type { CoreEvent } from '../core/model.ts';
import type { CertificateStatus } from '../gateway/master-certs.ts';
import type { Logger } from '../log/logger.ts';
import { coversHost } from '../tls/certificate.ts';
import { Poller } from '../util/poller.ts';

/** How often the gateway's certificates are read (a renewal is rare: seconds are plenty). */
export const CERT_WATCH_INTERVAL_MS = 2000;

export interface CertWatchOptions {
  read: () => Promise<CertificateStatus[]>;
  services: () => ServiceConfig[];
  tell: (events: CoreEvent[]) => void;
  log: Logger;
}

export class CertificateWatch {
  readonly #opts: CertWatchOptions;
  #latest: CertificateStatus[] = [];
  #seen = new Map<string, CertificateStatus>();
  readonly #poller = new Poller(CERT_WATCH_INTERVAL_MS, () => this.#read());

  constructor(opts: CertWatchOptions) {
    this.#opts = opts;
  }

  start(): void {
    this.#poller.start();
    void this.poll();
  }

  stop(): void {
    this.#poller.stop();
  }

  latest(): CertificateStatus[] {
    return this.#latest;
  }

  /** The certificate serving a service's route host, if any. */
  forHost(host: string): CertificateStatus | undefined {
    if (host === '*') return undefined;
    return this.#latest.find((c) => coversHost(c.hosts, host));
  }

  poll(): Promise<void> {
    return this.#poller.run();
  }

  async #read(): Promise<void> {
    try {
      const certs = await this.#opts.read();
      this.#latest = certs;
      const events: CoreEvent[] = [];
      for (const cert of certs) {
        const key = `${cert.source}:${cert.hosts.join(',')}`;
        const prev = this.#seen.get(key);
        this.#seen.set(key, cert);
        for (const e of changeEvents(prev, cert)) {
          const services = this.#opts.services().filter((s) => coversHost(cert.hosts, s.route.host));
          if (services.length === 0)
            this.#opts.log.warn('certificate event for no routed service', { ...e, hosts: cert.hosts });
          for (const s of services) events.push({ service: s.name, ...e });
        }
      }
      if (events.length > 0) this.#opts.tell(events);
    } catch {
      // The gateway is restarting or unreachable: its certificates are read again at the next tick.
    }
  }
}

/** What changed between two readings of one certificate (pure). */
export function changeEvents(
  prev: CertificateStatus | undefined,
  cur: CertificateStatus,
): Array<Pick<CoreEvent, 'type' | 'message'>> {
  const hosts = cur.hosts.join(', ');
  const out: Array<Pick<CoreEvent, 'type' | 'message'>> = [];
  if (cur.state === 'failed' && (prev?.state !== 'failed' || prev.error !== cur.error)) {
    const kept =
      cur.notAfter !== undefined ? `; the certificate valid until ${cur.notAfter} stays in use` : '';
    out.push({
      type: 'CertificateFailed',
      message: `certificate for ${hosts} (${cur.source}): ${cur.error ?? 'failed'}${kept}`,
    });
  }
  if (cur.notAfter !== undefined && prev !== undefined && prev.notAfter !== cur.notAfter) {
    out.push({
      type: 'CertificateIssued',
      message: `certificate for ${hosts} (${cur.source}) now valid until ${cur.notAfter}`,
    });
  }
  if (cur.notAfter !== undefined && prev === undefined && cur.source === 'acme') {
    out.push({
      type: 'CertificateIssued',
      message: `certificate for ${hosts} (acme) valid until ${cur.notAfter}`,
    });
  }
  return out;
}
