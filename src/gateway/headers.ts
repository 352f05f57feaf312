/**
 * Hop-by-hop header handling (RFC 9110 7.6.1) for both directions. The request side strips everything the
 * client could use to smuggle or to strip the gateway's own fields, then appends X-Forwarded-* and
 * X-Request-Id: the gateway's fields are added AFTER stripping, so `Connection: X-Forwarded-For` from a
 * client cannot remove them.
 *
 * Hot path: header names are only lower-cased when their length matches a name we care about.
 */

import { isValidTraceparent, newTraceparent } from './trace.ts';

/** What the request-header pass learned about the request. */
export interface RequestHeadInfo {
  host: string | undefined;
  contentLength: string | undefined;
  chunked: boolean;
  requestId: string | undefined;
  /** The `traceparent` sent upstream (the client's when valid, else a new one). */
  traceparent?: string;
  /** The client sent `TE: trailers` (re-added for HTTP/2 upstreams: gRPC needs it; HTTP/1.1 ones never see it). */
  teTrailers?: boolean;
}

/** Names a client may not make us drop through `Connection:` (end-to-end framing and routing). */
function isProtectedFromConnection(lower: string): boolean {
  return lower === 'host' || lower === 'content-length';
}

/**
 * Builds the flat [name, value, ...] header list sent upstream. `forWebSocket` keeps nothing of the
 * client's upgrade negotiation except what the caller re-adds (`Connection: Upgrade`, `Upgrade: websocket`).
 */
export function buildUpstreamHeaders(
  raw: readonly string[],
  clientAddress: string | undefined,
  info: RequestHeadInfo,
  makeRequestId: () => string,
  trustedPeer = false,
  scheme: 'http' | 'https' = 'http',
): string[] {
  const out: string[] = [];
  /** Index in `out` of the first Cookie field: HTTP/2 clients send one field per cookie (RFC 9113 8.2.3). */
  let cookieAt = -1;
  let xff: string | undefined;
  let xfProto: string | undefined;
  let xfHost: string | undefined;
  let connectionTokens: string[] | undefined;
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 58 /* : */) {
      // HTTP/2 pseudo-headers: only :authority goes on, as Host (:method, :path, :scheme are the request line).
      if (name === ':authority' && info.host === undefined) {
        info.host = value;
        out.push('host', value);
      }
      continue;
    }
    // Lower-cased once, and only at a hop-by-hop name's length (which covers cases 10, 16 and 17 below).
    let lower = '';
    if (hopByHopLength(name.length)) {
      lower = name.toLowerCase();
      const hop = hopByHop(lower);
      if (hop !== HOP_NONE) {
        if (hop === HOP_CONNECTION) connectionTokens = collectConnectionTokens(value, connectionTokens);
        else if (hop === HOP_TRANSFER_ENCODING) info.chunked = true;
        else if (lower === 'te' && hasTrailersToken(value)) info.teTrailers = true;
        continue;
      }
    }
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          // An HTTP/2 request with both :authority and Host: :authority wins (RFC 9113 8.3.1).
          if (info.host !== undefined) continue;
          info.host = value;
        }
        break;
      case 6: {
        const lower6 = name.toLowerCase();
        if (lower6 === 'expect') continue;
        if (lower6 === 'cookie') {
          if (cookieAt !== -1) {
            out[cookieAt + 1] = `${out[cookieAt + 1]}; ${value}`;
            continue;
          }
          cookieAt = out.length;
        }
        break;
      }
      case 10:
        if (lower === 'tracestate') {
          tracestate = tracestate === undefined ? value : `${tracestate},${value}`;
          continue;
        }
        break;
      case 11:
        if (name.toLowerCase() === 'traceparent') {
          // Repeated traceparent fields are invalid: a second one makes the gateway start a new trace.
          traceparent = traceparent === undefined ? value : '';
          continue;
        }
        break;
      case 12:
        if (name.toLowerCase() === 'x-request-id') {
          if (info.requestId === undefined && value !== '') info.requestId = value;
          continue;
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') info.contentLength = value;
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') {
          xff = xff === undefined ? value : `${xff}, ${value}`;
          continue;
        }
        break;
      case 16:
        // x-cutover-mirror marks the gateway's own mirror copies: a client cannot claim to be one.
        if (lower === 'x-cutover-mirror') continue;
        if (lower === 'x-forwarded-host') {
          if (xfHost === undefined) xfHost = value;
          continue;
        }
        break;
      case 17:
        if (lower === 'x-forwarded-proto') {
          if (xfProto === undefined) xfProto = value;
          continue;
        }
        break;
    }
    out.push(name, value);
  }
  if (connectionTokens !== undefined) {
    removeNamed(out, connectionTokens);
    // Fields the client declared hop-by-hop are dropped; the gateway's own versions are added below.
    if (connectionTokens.includes('x-forwarded-for')) xff = undefined;
    if (connectionTokens.includes('x-forwarded-proto')) xfProto = undefined;
    if (connectionTokens.includes('x-forwarded-host')) xfHost = undefined;
    if (connectionTokens.includes('x-request-id')) info.requestId = undefined;
    if (connectionTokens.includes('traceparent')) traceparent = undefined;
  }
  // Hop-by-hop fields are gone: only now add the gateway's own.
  // Only a trusted proxy may say who the client is: from anyone else the gateway's own view replaces the
  // incoming X-Forwarded-For/-Proto/-Host.
  const addr = clientAddress ?? '';
  if (!trustedPeer) {
    xff = undefined;
    xfProto = undefined;
    xfHost = undefined;
  }
  out.push(
    'x-forwarded-for',
    xff === undefined ? addr : `${xff}, ${addr}`,
    'x-forwarded-proto',
    xfProto ?? scheme,
  );
  const fwdHost = xfHost ?? info.host;
  if (fwdHost !== undefined) out.push('x-forwarded-host', fwdHost);
  if (info.requestId === undefined) info.requestId = makeRequestId();
  out.push('x-request-id', info.requestId);
  // W3C Trace Context: pass a valid traceparent (and its tracestate) through, else start a trace.
  if (traceparent !== undefined && isValidTraceparent(traceparent)) {
    out.push('traceparent', traceparent);
    if (tracestate !== undefined && !connectionTokens?.includes('tracestate'))
      out.push('tracestate', tracestate);
  } else {
    traceparent = newTraceparent();
    out.push('traceparent', traceparent);
  }
  info.traceparent = traceparent;
  return out;
}

/** Whether a TE field value lists `trailers` (RFC 9110 10.1.4). */
function hasTrailersToken(value: string): boolean {
  for (const part of value.split(',')) {
    const token = part.split(';')[0].trim().toLowerCase();
    if (token === 'trailers') return true;
  }
  return false;
}

const HOP_NONE = 0;
const HOP_DROP = 1;
const HOP_CONNECTION = 2;
const HOP_TRANSFER_ENCODING = 3;

/** Whether a name of this length could be hop-by-hop: only those are lower-cased to be checked. */
function hopByHopLength(length: number): boolean {
  return length === 2 || length === 7 || length === 10 || length === 16 || length === 17;
}

/** Whether a lower-cased field name is hop-by-hop (never forwarded, either way): HOP_NONE, or which one. */
function hopByHop(lower: string): number {
  switch (lower) {
    case 'te':
    case 'upgrade':
    case 'keep-alive':
    case 'proxy-connection':
      return HOP_DROP;
    case 'connection':
      return HOP_CONNECTION;
    case 'transfer-encoding':
      return HOP_TRANSFER_ENCODING;
    default:
      return HOP_NONE;
  }
}

/** Tokens of a Connection header that name other fields (not the usual keep-alive/close/upgrade). */
function collectConnectionTokens(value: string, acc: string[] | undefined): string[] | undefined {
  const lowerValue = value.toLowerCase();
  if (lowerValue === 'keep-alive' || lowerValue === 'close' || lowerValue === 'upgrade') return acc;
  for (const part of lowerValue.split(',')) {
    const token = part.trim();
    if (token === '' || token === 'keep-alive' || token === 'close' || token === 'upgrade') continue;
    if (isProtectedFromConnection(token)) continue;
    if (acc === undefined) acc = [];
    acc.push(token);
  }
  return acc;
}

function removeNamed(list: string[], lowerNames: readonly string[]): void {
  let w = 0;
  for (let r = 0; r < list.length; r += 2) {
    if (lowerNames.includes(list[r].toLowerCase())) continue;
    list[w++] = list[r];
    list[w++] = list[r + 1];
  }
  list.length = w;
}

/**
 * Upstream response headers (flat latin1 strings, as the parser gives them: latin1 round-trips the bytes
 * exactly, and Node writes header strings as latin1) -> the list for `res.writeHead`, without hop-by-hop
 * fields.
 */
export function filterResponseHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let connectionTokens: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const hop = hopByHopLength(name.length) ? hopByHop(name.toLowerCase()) : HOP_NONE;
    if (hop === HOP_NONE) out.push(name, raw[i + 1]);
    else if (hop === HOP_CONNECTION) connectionTokens = collectConnectionTokens(raw[i + 1], connectionTokens);
  }
  if (connectionTokens !== undefined) removeNamed(out, connectionTokens);
  return out;
}

/** The Content-Length of a response header list (flat name/value strings), or -1 without a valid one. */
export function declaredLength(list: readonly string[]): number {
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i];
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const value = list[i + 1];
      return /^[0-9]{1,15}$/.test(value) ? Number(value) : -1;
    }
  }
  return -1;
}
