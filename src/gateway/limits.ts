/**
 * Hostile-input checks on a request head, on top of Node's strict HTTP parser (which already rejects TE +
 * Content-Length, differing or malformed Content-Length, obs-fold, bare LF/CR, invalid header names and
 * control characters in values). What it lets through and this module rejects before anything is sent
 * upstream:
 *  - HTTP versions other than 1.0 / 1.1 (HTTP/0.9-style heads, `HTTP/2.0` as text) -> 505
 *  - more header fields than `maxHeaders` -> 431
 *  - Transfer-Encoding other than exactly `chunked` (`gzip, chunked`, `xchunked`, `identity`), repeated
 *    Transfer-Encoding fields, Transfer-Encoding on HTTP/1.0 -> 400
 *  - Content-Length that is not plain digits, or repeated (defence in depth) -> 400
 *  - no Host on HTTP/1.1 (upgrades too), more than one Host, or a Host that is not `host[:port]` -> 400
 *  - request targets other than origin-form and http(s) absolute-form (`*`, other schemes, userinfo,
 *    fragments, an absolute-form authority that differs from Host) -> 400
 *  - `Upgrade: websocket` on a request that is not a connection upgrade -> 400
 * plus the WebSocket handshake checks for upgrade requests (RFC 6455 4.1/4.2.1).
 */
import type http from 'node:http';
import type { GatewaySettings } from './protocol.ts';

export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
export const DEFAULT_MAX_HEADERS = 100;

export interface Rejection {
  status: 400 | 431 | 505;
  reason: string;
}

export function maxHeaderSize(settings: GatewaySettings): number {
  return settings.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
}

export function maxHeaders(settings: GatewaySettings): number {
  return settings.maxHeaders ?? DEFAULT_MAX_HEADERS;
}

export const STATUS_TEXT: Record<Rejection['status'], string> = {
  400: 'Bad Request',
  431: 'Request Header Fields Too Large',
  505: 'HTTP Version Not Supported',
};

/** reg-name / IPv4 (letters, digits, `-._~`, sub-delims minus `,;`), or an IP literal; optional port. */
const HOST_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;
const DIGITS_RE = /^[0-9]{1,15}$/;

function bad(reason: string): Rejection {
  return { status: 400, reason };
}

/** The body of the answer to a rejected request head. */
export function rejectionBody(rej: Rejection): string {
  return `cutover: ${STATUS_TEXT[rej.status].toLowerCase()}: ${rej.reason}\n`;
}

/**
 * Checks a parsed request head; null when it may be proxied. `upgrade`: the head came with
 * `Connection: upgrade` (Node's 'upgrade' event).
 */
export function checkRequestHead(
  req: http.IncomingMessage,
  settings: GatewaySettings,
  upgrade: boolean,
): Rejection | null {
  const v = req.httpVersion;
  if (v !== '1.1' && v !== '1.0') return { status: 505, reason: `HTTP/${v} is not supported` };
  const raw = req.rawHeaders;
  if (raw.length / 2 > maxHeaders(settings)) {
    return { status: 431, reason: `more than ${maxHeaders(settings)} header fields` };
  }
  let hosts = 0;
  let host: string | undefined;
  let te = 0;
  let teValue = '';
  let cl = 0;
  let wsUpgrade = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          hosts++;
          host = raw[i + 1];
        }
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade' && /(?:^|,)\s*websocket\s*(?:,|$)/i.test(raw[i + 1])) {
          wsUpgrade = true;
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          cl++;
          if (!DIGITS_RE.test(raw[i + 1].trim())) return bad('invalid Content-Length');
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          te++;
          teValue = raw[i + 1];
        }
        break;
    }
  }
  if (hosts > 1) return bad('more than one Host header');
  // Node's requireHostHeader does not cover upgrade requests.
  if (hosts === 0 && v === '1.1') return bad('missing Host header');
  if (host !== undefined && !HOST_RE.test(host)) return bad('invalid Host header');
  if (cl > 1) return bad('more than one Content-Length');
  if (te > 0) {
    if (te > 1 || teValue.trim().toLowerCase() !== 'chunked') {
      return bad('unsupported Transfer-Encoding (only "chunked" is accepted)');
    }
    if (v === '1.0') return bad('Transfer-Encoding on an HTTP/1.0 request');
    if (cl > 0) return bad('both Transfer-Encoding and Content-Length');
  }
  if (wsUpgrade && !upgrade) return bad('Upgrade: websocket without Connection: upgrade');
  return checkTarget(req.url ?? '', host);
}

function checkTarget(target: string, host: string | undefined): Rejection | null {
  if (target.charCodeAt(0) === 47 /* / */) {
    if (target.includes('#')) return bad('fragment in request target');
    return null;
  }
  if (target === '*') return bad('asterisk-form request target is not supported');
  const lower = target.slice(0, 8).toLowerCase();
  if (!lower.startsWith('http://') && !lower.startsWith('https://')) {
    return bad('unsupported request target');
  }
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return bad('invalid absolute-form request target');
  }
  if (u.username !== '' || u.password !== '' || target.includes('#')) {
    return bad('userinfo or fragment in request target');
  }
  // RFC 9112 3.2.2: the target's authority is the host. Refuse a Host that says otherwise rather than
  // routing by one name while the upstream sees the other.
  if (host !== undefined && host.toLowerCase() !== u.host.toLowerCase()) {
    return bad('absolute-form target does not match Host');
  }
  return null;
}

/** RFC 6455 4.2.1 checks of an upgrade request (after checkRequestHead). */
export function checkWebSocketHandshake(req: http.IncomingMessage): string | null {
  if (req.method !== 'GET') return 'WebSocket upgrade must use GET';
  if (req.httpVersion !== '1.1') return 'WebSocket upgrade needs HTTP/1.1';
  const upgrade = req.headers.upgrade;
  if (
    typeof upgrade !== 'string' ||
    !upgrade
      .toLowerCase()
      .split(',')
      .some((t) => t.trim() === 'websocket')
  ) {
    return 'Upgrade header must be "websocket"';
  }
  const key = req.headers['sec-websocket-key'];
  // base64 of exactly 16 bytes: 22 characters then "==" (a repeated header is joined with ", " and fails).
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key.trim())) {
    return 'missing or malformed Sec-WebSocket-Key';
  }
  if (req.headers['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version must be 13';
  const cl = req.headers['content-length'];
  if ((cl !== undefined && cl.trim() !== '0') || req.headers['transfer-encoding'] !== undefined) {
    return 'a WebSocket upgrade request cannot have a body';
  }
  return null;
}

/**
 * Calls `done(true)` once a chunked request body has its first bytes (or its end) parsed, `done(false)` if
 * the connection failed first (the parser rejected a chunk size or extension: the client got a 400 from
 * `clientError`). A request whose chunked framing is broken from the start thus never reaches an upstream.
 */
export function whenBodyStarts(req: http.IncomingMessage, done: (ok: boolean) => void): void {
  const socket = req.socket;
  if (req.readableLength > 0 || req.complete) {
    // Parsed in the same read as the head: a parse error there has already been handled synchronously.
    process.nextTick(() => done(!socket.writableEnded && !socket.destroyed && !req.destroyed));
    return;
  }
  let settled = false;
  const settle = (): void => {
    if (settled) return;
    settled = true;
    req.off('readable', settle);
    req.off('end', settle);
    req.off('close', settle);
    done(!socket.writableEnded && !socket.destroyed && !req.destroyed && req.errored === null);
  };
  req.on('readable', settle);
  req.on('end', settle);
  req.on('close', settle);
}

/** An absolute-form request target (`GET http://host/path`, RFC 9112 3.2.2): its host and path, or null. */
export function absoluteForm(target: string): { host: string; path: string } | null {
  if (!target.startsWith('http://') && !target.startsWith('https://')) return null;
  try {
    const u = new URL(target);
    return { host: u.host, path: u.pathname + u.search };
  } catch {
    return null;
  }
}
