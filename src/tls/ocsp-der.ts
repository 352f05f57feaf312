/**
 * The little DER that OCSP needs: reading the TLVs of a certificate or a response, writing the TLVs of a
 * request. Only definite lengths and one-byte tags (all OCSP and X.509 use), and every length is checked
 * against what is there: a response is input from the network, and a bad one must fail with an error,
 * never read past its buffer.
 */

/** Universal tags (class 0) used here. */
export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  enumerated: 0x0a,
  generalizedTime: 0x18,
  sequence: 0x30,
} as const;

/** Context-specific tag `[n]`, constructed (EXPLICIT, or IMPLICIT over a constructed type). */
export function contextTag(n: number): number {
  return 0xa0 | n;
}

/** Context-specific tag `[n]`, primitive (IMPLICIT over a primitive type, e.g. `good [0] IMPLICIT NULL`). */
export function contextPrimitiveTag(n: number): number {
  return 0x80 | n;
}

/** One TLV inside `source`: `value` is its content, `raw` the whole encoding (tag, length, content). */
export interface Tlv {
  tag: number;
  value: Buffer;
  raw: Buffer;
}

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Longest length field accepted (bytes after 0x8n): 4 covers anything that fits in memory here. */
const MAX_LENGTH_BYTES = 4;

/** Reads the TLV at `offset`. */
export function readTlv(source: Buffer, offset = 0): Tlv {
  if (offset + 2 > source.length) throw new DerError(`truncated TLV at byte ${offset}`);
  const tag = source[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at byte ${offset}`);
  let length = source[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError(`indefinite length at byte ${offset}`);
    if (count > MAX_LENGTH_BYTES) throw new DerError(`length of ${count} bytes at byte ${offset}`);
    if (offset + 2 + count > source.length) throw new DerError(`truncated length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + source[offset + 2 + i];
    header += count;
  }
  const end = offset + header + length;
  if (end > source.length) {
    throw new DerError(
      `TLV at byte ${offset} claims ${length} bytes, ${source.length - offset - header} left`,
    );
  }
  return { tag, value: source.subarray(offset + header, end), raw: source.subarray(offset, end) };
}

/** Reads a whole buffer that must be exactly one TLV with tag `tag`. */
export function readOnly(source: Buffer, tag: number, what: string): Tlv {
  const tlv = expectTag(readTlv(source), tag, what);
  if (tlv.raw.length !== source.length) throw new DerError(`${what}: trailing bytes after it`);
  return tlv;
}

/** The TLVs inside a constructed one, in order. */
export function children(parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < parent.value.length) {
    const child = readTlv(parent.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) throw new DerError(`${what}: missing`);
  if (tlv.tag !== tag) {
    throw new DerError(`${what}: tag 0x${hex2(tlv.tag)} where 0x${hex2(tag)} was expected`);
  }
  return tlv;
}

/** An OBJECT IDENTIFIER's content as dotted text (`1.3.6.1.5.5.7.48.1.1`). */
export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new DerError('empty OID');
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    n = n * 128 + (value[i] & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if ((value[i] & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
      else arcs.push(n);
      n = 0;
    } else if (i === value.length - 1) {
      throw new DerError('truncated OID');
    }
  }
  return arcs.join('.');
}

/** A small non-negative INTEGER or ENUMERATED content as a number. */
export function decodeSmallInt(value: Buffer): number {
  if (value.length === 0 || value.length > 4 || value[0] & 0x80) {
    throw new DerError('not a small non-negative integer');
  }
  return value.reduce((n, b) => n * 256 + b, 0);
}

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/;

/** A GeneralizedTime content (`20250102030405Z`, optional fraction) as ms since the epoch. */
export function decodeGeneralizedTime(value: Buffer): number {
  const text = value.toString('latin1');
  const m = GENERALIZED_TIME.exec(text);
  if (m === null) throw new DerError(`not a UTC GeneralizedTime: ${JSON.stringify(text)}`);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
}

/** The bits of a BIT STRING content without its unused-bits byte (keys and signatures use whole bytes). */
export function bitStringBytes(value: Buffer): Buffer {
  if (value.length === 0 || value[0] !== 0) throw new DerError('BIT STRING with unused bits');
  return value.subarray(1);
}

/** Encodes one TLV. */
export function encodeTlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes dotted OID text as a full OBJECT IDENTIFIER TLV. */
export function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) {
    throw new DerError(`bad OID ${dotted}`);
  }
  const bytes: number[] = [];
  const first = [arcs[0] * 40 + arcs[1], ...arcs.slice(2)];
  for (const arc of first) {
    const groups = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return encodeTlv(TAG.oid, Buffer.from(bytes));
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
