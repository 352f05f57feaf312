/**
 * The worker's TLS secure contexts by server name: exact name, then `*.parent` wildcard (one label), then
 * the default (the first certificate). Replaced as a whole when the master sends a new set; a handshake in
 * progress keeps the context it got.
 */

import type tls from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { type BookEntry, CertificateBook } from '../tls/sni.ts';
import { nodeCrypto, nodeTls } from '../util/builtins.ts';
import type { CertificateMaterial } from './protocol.ts';
import { TLS12_CIPHERS } from './tls-ciphers.ts';

export class SniContexts {
  #book = new CertificateBook<tls.SecureContext>([]);
  readonly #logger: Logger;
  /** Asked for a name nothing covers (ACME on demand); resolves when a new set may have it. */
  onMissing: ((servername: string) => Promise<void>) | null = null;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Builds every context first: a certificate the TLS library refuses leaves the previous set in force. */
  set(certs: CertificateMaterial[]): void {
    const entries: BookEntry<tls.SecureContext>[] = [];
    const staples = new Map<string, Buffer>();
    for (const c of certs) {
      try {
        const value = nodeTls().createSecureContext({
          cert: c.certPem,
          key: c.keyPem,
          minVersion: 'TLSv1.2',
          ciphers: TLS12_CIPHERS,
          honorCipherOrder: true,
        });
        entries.push({ hosts: c.hosts, value });
        if (c.ocsp !== undefined)
          staples.set(
            new nodeCrypto.X509Certificate(c.certPem).raw.toString('base64'),
            Buffer.from(c.ocsp, 'base64'),
          );
      } catch (err) {
        this.#logger.error('certificate refused by the TLS library; keeping the others', {
          hosts: c.hosts,
          error: (err as Error).message,
        });
      }
    }
    // The first certificate (the configured default) answers names nothing else covers, and no SNI.
    this.#book = new CertificateBook(entries, entries[0]?.value);
    this.#exactOrWild = new CertificateBook(entries);
    this.#staples = staples;
  }

  /** OCSP staples by the leaf's DER (base64): what the handshake's certificate is known by. */
  #staples = new Map<string, Buffer>();

  /** The OCSP response to staple for the certificate a handshake uses (its DER), if there is one. */
  ocspFor(certDer: Buffer): Buffer | undefined {
    return this.#staples.get(certDer.toString('base64'));
  }

  /** Without the default: whether a name is covered (an uncovered one may be worth an ACME order). */
  #exactOrWild = new CertificateBook<tls.SecureContext>([]);

  lookup(servername: string | undefined): tls.SecureContext | undefined {
    return this.#book.lookup(servername);
  }

  /** The SNICallback: a covered name at once; an uncovered one may wait for ACME (onMissing), else the default. */
  select(servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void {
    const found = this.#exactOrWild.lookup(servername);
    if (found !== undefined || this.onMissing === null || servername === '') {
      cb(null, found ?? this.#book.lookup(undefined));
      return;
    }
    this.onMissing(servername).then(
      () => cb(null, this.#book.lookup(servername)),
      () => cb(null, this.#book.lookup(undefined)),
    );
  }
}
