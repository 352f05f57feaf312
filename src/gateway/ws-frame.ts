/**
 * Just enough WebSocket framing (RFC 6455 section 5.2) for the relay to find frame boundaries in a byte
 * stream and to write a Close frame of its own: headers and lengths only, payloads pass untouched.
 */
export const OPCODE_CLOSE = 8;

/** Tracks frame boundaries in one direction of a WebSocket stream (header parsing only). */
export class FrameScanner {
  /** Payload bytes left in the current frame. */
  #remaining = 0;
  readonly #hdr = Buffer.alloc(14);
  /** Header bytes collected so far (0 and #remaining 0: at a frame boundary). */
  #hdrLen = 0;
  #opcode = -1;
  /** Opcode of the frame that ended at the offset last returned by next(). */
  lastOpcode = -1;

  get atBoundary(): boolean {
    return this.#remaining === 0 && this.#hdrLen === 0;
  }

  /**
   * Consumes chunk from `pos` up to the end of the current frame and returns that offset (a boundary), or -1
   * when the chunk ends mid-frame (everything consumed).
   */
  next(chunk: Buffer, pos: number): number {
    const len = chunk.length;
    while (pos < len) {
      if (this.#remaining > 0) {
        const avail = len - pos;
        if (avail < this.#remaining) {
          this.#remaining -= avail;
          return -1;
        }
        pos += this.#remaining;
        this.#remaining = 0;
        this.lastOpcode = this.#opcode;
        return pos;
      }
      // Collect the frame header.
      const hdr = this.#hdr;
      if (this.#hdrLen < 2) {
        hdr[this.#hdrLen++] = chunk[pos++];
        if (this.#hdrLen < 2) continue;
      }
      const len7 = hdr[1] & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (hdr[1] & 0x80 ? 4 : 0);
      while (this.#hdrLen < need && pos < len) hdr[this.#hdrLen++] = chunk[pos++];
      if (this.#hdrLen < need) return -1;
      let payload = len7;
      if (len7 === 126) payload = hdr.readUInt16BE(2);
      else if (len7 === 127) payload = hdr.readUInt32BE(2) * 0x100000000 + hdr.readUInt32BE(6);
      this.#opcode = hdr[0] & 0x0f;
      this.#hdrLen = 0;
      this.#remaining = payload;
      if (payload === 0) {
        this.lastOpcode = this.#opcode;
        return pos;
      }
    }
    return -1;
  }
}

/** A Close frame; masked (client -> server) or not (server -> client). */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const reasonBytes = Buffer.from(reason.slice(0, 120), 'utf8');
  const payloadLen = 2 + reasonBytes.length;
  const frame = Buffer.alloc(2 + (masked ? 4 : 0) + payloadLen);
  frame[0] = 0x80 | OPCODE_CLOSE;
  frame[1] = (masked ? 0x80 : 0) | payloadLen;
  let off = 2;
  const payload = Buffer.alloc(payloadLen);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  if (masked) {
    const mask = frame.subarray(2, 6);
    for (let i = 0; i < 4; i++) mask[i] = Math.floor(Math.random() * 256);
    off = 6;
    for (let i = 0; i < payloadLen; i++) frame[off + i] = payload[i] ^ mask[i & 3];
  } else payload.copy(frame, off);
  return frame;
}
