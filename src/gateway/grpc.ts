/**
 * What the gateway reads of gRPC framing (only the status fields of a response) and the header shapes it
 * converts between when it relays trailers.
 */
import type { OutgoingHttpHeaders } from 'node:http';

/** grpc-status of a call the gateway ends itself because its instance is drained or gone. */
export const GRPC_UNAVAILABLE = 14;
/** What a gRPC client reads a 200 response without any grpc-status as. */
export const GRPC_UNKNOWN = 2;

const STATUS = 'grpc-status';

/** The `grpc-status` in raw response headers (undici's Buffer list), or -1. */
export function grpcStatusOfRaw(raw: readonly Buffer[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === STATUS.length && name.toString('latin1').toLowerCase() === STATUS) {
      return parseStatus(raw[i + 1].toString('latin1'));
    }
  }
  return -1;
}

/** The `grpc-status` in a flat [name, value, ...] list, or -1. */
export function grpcStatusOfList(list: readonly string[]): number {
  for (let i = 0; i < list.length; i += 2) {
    if (list[i].length === STATUS.length && list[i].toLowerCase() === STATUS) return parseStatus(list[i + 1]);
  }
  return -1;
}

function parseStatus(value: string): number {
  const n = Number(value.trim());
  return Number.isInteger(n) && n >= 0 ? n : GRPC_UNKNOWN;
}

/**
 * Trailers as a dispatcher reports them (undici's HTTP/1 client: raw Buffers; the HTTP/2 upstream: strings;
 * undici's HTTP/2 client: an object) -> a flat [name, value, ...] string list.
 */
export function trailerList(trailers: unknown): string[] {
  if (trailers === null || trailers === undefined) return [];
  if (Array.isArray(trailers)) {
    const out: string[] = [];
    for (let i = 0; i + 1 < trailers.length; i += 2) {
      out.push(String(asText(trailers[i])), String(asText(trailers[i + 1])));
    }
    return out;
  }
  if (typeof trailers !== 'object') return [];
  const out: string[] = [];
  for (const [name, value] of Object.entries(trailers as Record<string, unknown>)) {
    if (Array.isArray(value)) for (const v of value) out.push(name, String(v));
    else if (value !== undefined) out.push(name, String(value));
  }
  return out;
}

function asText(v: unknown): unknown {
  return Buffer.isBuffer(v) ? v.toString('latin1') : v;
}

/** Never relayed in trailers: connection-specific (HTTP/2 refuses them) or framing fields. */
const NOT_TRAILERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'content-length',
]);

/**
 * A flat list -> a header object (repeated names become arrays), without HTTP/2 pseudo-headers and
 * without the fields that may not be trailers.
 */
export function headerObject(list: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i].toLowerCase();
    if (name.charCodeAt(0) === 58 /* : */ || NOT_TRAILERS.has(name)) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = list[i + 1];
    else if (Array.isArray(prev)) prev.push(list[i + 1]);
    else out[name] = [String(prev), list[i + 1]];
  }
  return out;
}

/** Trailers that end a call with UNAVAILABLE and `message` (ASCII, so no percent-encoding is needed). */
export function unavailableTrailers(message: string): OutgoingHttpHeaders {
  return { 'grpc-status': String(GRPC_UNAVAILABLE), 'grpc-message': message };
}
