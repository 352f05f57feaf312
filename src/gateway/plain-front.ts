/**
 * The plain listener when HTTP/2 cleartext is on (`gateway.http2.cleartext`): each connection's first bytes
 * tell an h2c client (the HTTP/2 connection preface, RFC 9113 3.4: what gRPC clients without TLS send)
 * from an HTTP/1 one. HTTP/1 connections go to the worker's HTTP/1 server as they would without this;
 * h2c ones to the HTTP/2 clients. Without cleartext HTTP/2 the HTTP/1 server listens on the handle itself.
 */

import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { nodeNet, nodeStream } from '../util/builtins.ts';
import type { ConnectionCap } from './connection-cap.ts';
import type { H2Clients } from './h2-server.ts';

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": its first 4 bytes already rule out every HTTP/1 method. */
const PREFACE_START = Buffer.from('PRI ', 'latin1');

export class PlainFront {
  readonly #server: net.Server;
  /** `gateway.maxConnections` (this worker's share), set by the worker. */
  cap: ConnectionCap | null = null;
  readonly #idleMs: number;

  constructor(h1: net.Server, h2: H2Clients, idleMs: number) {
    this.#idleMs = idleMs;
    this.#server = nodeNet.createServer((socket) => {
      if (this.cap !== null && !this.cap.admit(socket)) return;
      socket.on('error', noop);
      socket.setTimeout(this.#idleMs, () => socket.destroy());
      socket.once('data', (first: Buffer) => {
        socket.setTimeout(0);
        socket.off('error', noop);
        socket.pause();
        if (first.length >= 4 && first.subarray(0, 4).equals(PREFACE_START)) {
          h2.acceptCleartext(replayStream(socket, first), socket.remoteAddress);
          return;
        }
        socket.unshift(first);
        h1.emit('connection', socket);
        socket.resume();
      });
    });
    // http.Server starts its connection bookkeeping (idle sweeps, head timeouts) on 'listening', which it
    // never sees when connections are handed to it: start it here.
    h1.emit('listening');
  }

  listen(handle: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(handle as net.Server, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  stopAccepting(): void {
    nodeNet.Server.prototype.close.call(this.#server);
  }
}

/**
 * The socket as a stream that first yields the bytes already read. node:http2 reads a plain net.Socket's
 * handle directly, which would lose them; any other Duplex it reads through JavaScript.
 */
function replayStream(socket: net.Socket, first: Buffer): Duplex {
  const stream = new nodeStream.Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  stream.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  return stream;
}

function noop(): void {}
