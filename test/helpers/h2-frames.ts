/**
 * HTTP/2 written by hand, for tests that attack the gateway with frames no well-behaved client library
 * would send (RFC 9113 section 4 and 6; HPACK literals without indexing, RFC 7541 6.2.2). A raw
 * connection (`RawH2`) over plain TCP (h2c prior knowledge) or TLS (ALPN h2) collects every frame the
 * server sends and answers its SETTINGS, and nothing else unless told.
 */
import net from 'node:net';
import tls from 'node:tls';
import { waitFor } from './wait.ts';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export const SETTING = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;

export const H2_ERROR = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  ENHANCE_YOUR_CALM: 11,
} as const;

/** The largest frame payload a peer must accept before it raises SETTINGS_MAX_FRAME_SIZE. */
export const DEFAULT_MAX_FRAME = 16_384;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settingsFrame(entries: ReadonlyArray<readonly [number, number]> = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export function settingsAck(): Buffer {
  return frame(FRAME.SETTINGS, FLAG.ACK, 0);
}

export function headersFrame(
  streamId: number,
  block: Buffer,
  opts: { endStream?: boolean; endHeaders?: boolean } = {},
): Buffer {
  const flags =
    (opts.endStream !== false ? FLAG.END_STREAM : 0) | (opts.endHeaders !== false ? FLAG.END_HEADERS : 0);
  return frame(FRAME.HEADERS, flags, streamId, block);
}

export function continuationFrame(streamId: number, block: Buffer, endHeaders = false): Buffer {
  return frame(FRAME.CONTINUATION, endHeaders ? FLAG.END_HEADERS : 0, streamId, block);
}

export function rstStreamFrame(streamId: number, code: number = H2_ERROR.CANCEL): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, p);
}

export function pingFrame(data: Buffer = Buffer.alloc(8), ack = false): Buffer {
  return frame(FRAME.PING, ack ? FLAG.ACK : 0, 0, data);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment & 0x7fffffff);
  return frame(FRAME.WINDOW_UPDATE, 0, streamId, p);
}

export function goawayFrame(lastStreamId: number, code: number = H2_ERROR.NO_ERROR): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(code, 4);
  return frame(FRAME.GOAWAY, 0, 0, p);
}

/** HPACK integer with an N-bit prefix (RFC 7541 5.1); `high` holds the bits above the prefix. */
function hpackInt(value: number, prefixBits: number, high: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

/** A header block of literal fields without indexing, new names, no Huffman: the decoder keeps no state. */
export function hpackLiterals(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) parts.push(Buffer.from([0]), hpackString(name), hpackString(value));
  return Buffer.concat(parts);
}

/** The header block of a request: pseudo-headers first, then `extra`. */
export function requestBlock(
  authority: string,
  path = '/',
  opts: { method?: string; scheme?: string; extra?: ReadonlyArray<readonly [string, string]> } = {},
): Buffer {
  return hpackLiterals([
    [':method', opts.method ?? 'GET'],
    [':scheme', opts.scheme ?? 'http'],
    [':authority', authority],
    [':path', path],
    ...(opts.extra ?? []),
  ]);
}

export function parseSettings(payload: Buffer): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i + 6 <= payload.length; i += 6)
    out.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
  return out;
}

export function parseGoaway(f: Frame): { lastStreamId: number; code: number } {
  return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
}

export function rstCode(f: Frame): number {
  return f.payload.readUInt32BE(0);
}

/** HPACK static table entries for :status (RFC 7541 Appendix A, indexes 8-14). */
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
/** Huffman codes of the digits (RFC 7541 Appendix B): code -> digit, keyed by `${bits}:${code}`. */
const HUFFMAN_DIGITS = new Map<string, string>([
  ['5:0', '0'],
  ['5:1', '1'],
  ['5:2', '2'],
  ['6:25', '3'],
  ['6:26', '4'],
  ['6:27', '5'],
  ['6:28', '6'],
  ['6:29', '7'],
  ['6:30', '8'],
  ['6:31', '9'],
]);

/**
 * The :status of a response header block when it is its first field, as nghttp2 writes it: an indexed
 * static entry, or a literal with the :status name index and a (maybe Huffman-coded) 3-digit value.
 */
export function responseStatus(block: Buffer): number | undefined {
  const b = block[0];
  if (b === undefined) return undefined;
  if (b & 0x80) return STATIC_STATUS[b & 0x7f];
  // Literal with incremental indexing (01xxxxxx), without indexing (0000xxxx) or never indexed (0001xxxx).
  const nameIndex = b & 0x40 ? b & 0x3f : b & 0x0f;
  if (STATIC_STATUS[nameIndex] === undefined) return undefined;
  const len = block[1] & 0x7f;
  const raw = block.subarray(2, 2 + len);
  if (!(block[1] & 0x80)) return Number(raw.toString('latin1'));
  let bits = '';
  for (const byte of raw) bits += byte.toString(2).padStart(8, '0');
  let digits = '';
  let at = 0;
  while (digits.length < 3) {
    const five = HUFFMAN_DIGITS.get(`5:${Number.parseInt(bits.slice(at, at + 5), 2)}`);
    if (five !== undefined) {
      digits += five;
      at += 5;
      continue;
    }
    const six = HUFFMAN_DIGITS.get(`6:${Number.parseInt(bits.slice(at, at + 6), 2)}`);
    if (six === undefined) return undefined;
    digits += six;
    at += 6;
  }
  return Number(digits);
}

export interface RawH2Options {
  /** TLS with ALPN h2 (absent: h2c prior knowledge). */
  tls?: { servername: string; ca: string };
  /** Answer the server's SETTINGS with an ACK (default true). */
  ackSettings?: boolean;
  /** Our SETTINGS in the connection preface. */
  settings?: ReadonlyArray<readonly [number, number]>;
}

/** One hand-driven HTTP/2 client connection. */
export class RawH2 {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  closed = false;
  /** Bytes written by us (the attack's size). */
  written = 0;
  #buf: Buffer = Buffer.alloc(0);
  readonly #ackSettings: boolean;

  private constructor(socket: net.Socket, opts: RawH2Options) {
    this.socket = socket;
    this.#ackSettings = opts.ackSettings !== false;
    socket.on('data', (d: Buffer) => this.#feed(d));
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? err.message;
    });
  }

  /**
   * The first socket error's code. A write that meets a connection the server has closed (EPIPE,
   * ECONNRESET) makes Node destroy the socket without reading what the kernel still holds for it, so a
   * GOAWAY sent just before the close can be lost on our side.
   */
  error: string | undefined = undefined;

  /** Connects, then sends the preface and our SETTINGS. */
  static async open(port: number, opts: RawH2Options = {}): Promise<RawH2> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      if (opts.tls !== undefined) {
        const s = tls.connect({
          host: '127.0.0.1',
          port,
          servername: opts.tls.servername,
          ca: opts.tls.ca,
          ALPNProtocols: ['h2'],
        });
        s.once('secureConnect', () => resolve(s));
        s.once('error', reject);
      } else {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }
    });
    const c = new RawH2(socket, opts);
    c.write(Buffer.concat([PREFACE, settingsFrame(opts.settings ?? [])]));
    return c;
  }

  /** Writes unless the connection is gone; false when it is (the server cut the attack short). */
  write(buf: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    this.written += buf.length;
    this.socket.write(buf);
    return true;
  }

  /** The server's first SETTINGS (not an ACK). */
  get serverSettings(): Map<number, number> | undefined {
    const f = this.frames.find((x) => x.type === FRAME.SETTINGS && !(x.flags & FLAG.ACK));
    return f === undefined ? undefined : parseSettings(f.payload);
  }

  get goaway(): { lastStreamId: number; code: number } | undefined {
    const f = this.frames.find((x) => x.type === FRAME.GOAWAY);
    return f === undefined ? undefined : parseGoaway(f);
  }

  /** RST_STREAM codes the server sent, by stream. */
  resets(): Map<number, number> {
    const out = new Map<number, number>();
    for (const f of this.frames) if (f.type === FRAME.RST_STREAM) out.set(f.streamId, rstCode(f));
    return out;
  }

  /** :status of each stream the server answered with HEADERS. */
  statuses(): Map<number, number | undefined> {
    const out = new Map<number, number | undefined>();
    for (const f of this.frames) {
      if (f.type === FRAME.HEADERS && !out.has(f.streamId)) out.set(f.streamId, responseStatus(f.payload));
    }
    return out;
  }

  /** Streams the server has ended (a DATA or HEADERS frame with END_STREAM). */
  ended(): Set<number> {
    const out = new Set<number>();
    for (const f of this.frames) {
      if ((f.type === FRAME.DATA || f.type === FRAME.HEADERS) && f.flags & FLAG.END_STREAM)
        out.add(f.streamId);
    }
    return out;
  }

  /** SETTINGS ACKs and PING ACKs the server sent. */
  acks(): number {
    return this.frames.filter(
      (f) => (f.type === FRAME.SETTINGS || f.type === FRAME.PING) && f.flags & FLAG.ACK,
    ).length;
  }

  /** Polls until `check` holds (frames arrive asynchronously). */
  async until(check: (c: RawH2) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => check(this), timeoutMs, what);
  }

  /** Resolves when the server has closed the connection (throws after timeoutMs). */
  async untilClosed(timeoutMs = 10_000): Promise<void> {
    await this.until((c) => c.closed, 'the server to close the connection', timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #feed(d: Buffer): void {
    this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
    while (this.#buf.length >= 9) {
      const len = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + len) break;
      const f: Frame = {
        type: this.#buf[3],
        flags: this.#buf[4],
        streamId: this.#buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buf.subarray(9, 9 + len),
      };
      this.#buf = this.#buf.subarray(9 + len);
      this.frames.push(f);
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && this.#ackSettings) this.write(settingsAck());
    }
  }
}
