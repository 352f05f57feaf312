/**
 * `gateway.maxConnections`: this worker's share of the client connections the gateway holds at
 * once, counted at the listeners (plain and TLS, before any protocol is spoken). A connection
 * beyond it is closed at once: the client sees a refused connection and tries again, a front
 * balancer another gateway; nothing already open is touched.
 */
import type net from 'node:net';

export class ConnectionCap {
  readonly max: number;
  open = 0;
  refused = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Counts `socket` in, or closes it (false) when the worker is at its share. */
  admit(socket: net.Socket): boolean {
    if (this.open >= this.max) {
      this.refused++;
      socket.destroy();
      return false;
    }
    this.open++;
    socket.once('close', () => {
      this.open--;
    });
    return true;
  }
}
