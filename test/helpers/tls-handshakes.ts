/**
 * The TLS connections a load opened, in the order they were started: whether each handshake completed and
 * which certificate it was served. `mark()` then `since(mark)` answers "which certificate did connections
 * started after this point get", e.g. after a certificate reload.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

export interface Handshake {
  /** Position in start order (0-based). */
  seq: number;
  /** SHA-256 fingerprint of the served leaf (undefined until a full handshake completed). */
  fingerprint?: string;
  /** Completed by resuming an earlier session: no certificate was sent. */
  resumed?: boolean;
  failed?: string;
}

export class HandshakeLedger {
  readonly all: Handshake[] = [];

  /** Follows one connection from its start; call before it connects. */
  watch(socket: TLSSocket): Handshake {
    const h: Handshake = { seq: this.all.length };
    this.all.push(h);
    let connected = false;
    socket.once('secureConnect', () => {
      connected = true;
      if (socket.isSessionReused()) h.resumed = true;
      else h.fingerprint = socket.getPeerCertificate().fingerprint256;
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (!connected) h.failed = err.code ?? err.message;
    });
    return h;
  }

  get completed(): number {
    return this.all.filter((h) => h.fingerprint !== undefined || h.resumed).length;
  }

  get resumed(): number {
    return this.all.filter((h) => h.resumed).length;
  }

  get failures(): Handshake[] {
    return this.all.filter((h) => h.failed !== undefined);
  }

  /** The position the next connection will get. */
  mark(): number {
    return this.all.length;
  }

  /** Served fingerprint -> full handshakes, of connections started at or after `mark`. */
  since(mark: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const h of this.all.slice(mark)) {
      if (h.fingerprint !== undefined) out[h.fingerprint] = (out[h.fingerprint] ?? 0) + 1;
    }
    return out;
  }
}

/** SHA-256 fingerprint of a PEM certificate, spelled like `getPeerCertificate().fingerprint256`. */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
