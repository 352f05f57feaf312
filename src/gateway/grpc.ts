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
