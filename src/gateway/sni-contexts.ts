/**
 * The worker's TLS secure contexts by server name: exact name, then `*.parent` wildcard (one label), then
 * the default (the first certificate). Replaced as a whole when the master sends a new set; a handshake in
 * progress keeps the context it got.
 */
import tls from 'node:tls';
import type { Logger } from '../log/logger.ts';
import type { CertificateMaterial } from './protocol.ts';
import { TLS12_CIPHERS } from './tls-ciphers.ts';

export class SniContexts {
  #exact = new Map<string, tls.SecureContext>();
  #wildcard = new Map<string, tls.SecureContext>();
  #default: tls.SecureContext | undefined = undefined;
  readonly #logger: Logger;
  /** Asked for a name nothing covers (ACME on demand); resolves when a new set may have it. */
  onMissing: ((servername: string) => Promise<void>) | null = null;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Builds every context first: a certificate the TLS library refuses leaves the previous set in force. */
  set(certs: CertificateMaterial[]): void {
    const exact = new Map<string, tls.SecureContext>();
    const wildcard = new Map<string, tls.SecureContext>();
    let def: tls.SecureContext | undefined;
    for (const c of certs) {
      let ctx: tls.SecureContext;
      try {
        ctx = tls.createSecureContext({
          cert: c.certPem,
          key: c.keyPem,
          minVersion: 'TLSv1.2',
          ciphers: TLS12_CIPHERS,
          honorCipherOrder: true,
        });
      } catch (err) {
        this.#logger.error('certificate refused by the TLS library; keeping the others', {
          hosts: c.hosts,
          error: (err as Error).message,
        });
        continue;
      }
      def ??= ctx;
      for (const h of c.hosts) {
        const name = h.toLowerCase();
        if (name.startsWith('*.')) {
          if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), ctx);
        } else if (!exact.has(name)) exact.set(name, ctx);
      }
    }
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.#default = def;
  }

  lookup(servername: string | undefined): tls.SecureContext | undefined {
    if (servername === undefined || servername === '') return this.#default;
    let name = servername.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    return this.#exact.get(name) ?? this.#wildcardFor(name);
  }

  #wildcardFor(name: string): tls.SecureContext | undefined {
    const dot = name.indexOf('.');
    return dot === -1 ? undefined : this.#wildcard.get(name.slice(dot + 1));
  }

  /** The SNICallback: a covered name at once; an uncovered one may wait for ACME (onMissing), else the default. */
  select(servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void {
    const found = this.lookup(servername);
    if (found !== undefined || this.onMissing === null || servername === '') {
      cb(null, found ?? this.#default);
      return;
    }
    this.onMissing(servername).then(
      () => cb(null, this.lookup(servername) ?? this.#default),
      () => cb(null, this.#default),
    );
  }
}
