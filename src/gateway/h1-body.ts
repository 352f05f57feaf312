/**
 * A request body written to an HTTP/1.1 instance as it arrives, with the socket's backpressure: as-is
 * under a Content-Length, chunk-framed without one.
 */
import type net from 'node:net';
import type { Readable } from 'node:stream';
import { nodeStream } from '../util/builtins.ts';

export class BodyPump {
  readonly stream: Readable;
  /** A stream made here from an iterable (destroyed when stopped early); else the client's own request. */
  readonly #owned: boolean;
  readonly #socket: net.Socket;
  readonly #chunked: boolean;
  readonly #sent: () => void;
  readonly #failed: (err: Error) => void;
  #stopped = false;

  /** `sent`: the whole body is written; `failed`: the body stream failed (the client went away). */
  constructor(
    socket: net.Socket,
    body: NodeJS.ReadableStream | AsyncIterable<Buffer>,
    chunked: boolean,
    sent: () => void,
    failed: (err: Error) => void,
  ) {
    this.#owned = !(body instanceof nodeStream.Readable);
    this.stream = this.#owned
      ? nodeStream.Readable.from(body as AsyncIterable<Buffer>, { objectMode: false })
      : (body as Readable);
    this.#socket = socket;
    this.#chunked = chunked;
    this.#sent = sent;
    this.#failed = failed;
    this.stream.on('data', this.#onData);
    this.stream.on('end', this.#onEnd);
    this.stream.on('error', this.#onError);
  }

  /** No more writing. The client's own request stream is left to the client side (it may still be answered). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const s = this.stream;
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    s.off('error', this.#onError);
    if (this.#owned) s.destroy();
    else if (!s.readableEnded) s.pause();
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#stopped || chunk.length === 0) return;
    const socket = this.#socket;
    let ok: boolean;
    if (this.#chunked) {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else ok = socket.write(chunk);
    if (!ok) {
      this.stream.pause();
      socket.once('drain', this.#onDrain);
    }
  };

  readonly #onDrain = (): void => {
    if (!this.#stopped) this.stream.resume();
  };

  readonly #onEnd = (): void => {
    if (this.#stopped) return;
    this.stop();
    if (this.#chunked) this.#socket.write('0\r\n\r\n', 'latin1');
    this.#sent();
  };

  readonly #onError = (err: Error): void => {
    if (!this.#stopped) this.#failed(err);
  };
}
