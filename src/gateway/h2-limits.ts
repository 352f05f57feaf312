/**
 * Hostile-input checks on an HTTP/2 request head. nghttp2 (under node:http2) already refuses malformed
 * frames, connection-specific fields (Connection, Transfer-Encoding, Keep-Alive, Upgrade, TE other than
 * "trailers"), missing or repeated pseudo-headers and upper-case names. What is left is what HTTP/1 gets
 * from limits.ts: field count, Content-Length syntax, a usable authority and an origin-form path.
 */
import type { GatewayH2Request } from './client-messages.ts';
import { maxHeaders, type Rejection } from './limits.ts';
import type { GatewaySettings } from './protocol.ts';

const HOST_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;
const DIGITS_RE = /^[0-9]{1,15}$/;

export function checkH2RequestHead(req: GatewayH2Request, settings: GatewaySettings): Rejection | null {
  const raw = req.rawHeaders;
  let fields = 0;
  let authority: string | undefined;
  let host: string | undefined;
  let cl = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = raw[i + 1];
      continue;
    }
    fields++;
    if (name === 'host') host = raw[i + 1];
    else if (name === 'content-length') {
      cl++;
      if (!DIGITS_RE.test(raw[i + 1])) return { status: 400, reason: 'invalid content-length' };
    }
  }
  if (fields > maxHeaders(settings)) {
    return { status: 431, reason: `more than ${maxHeaders(settings)} header fields` };
  }
  if (cl > 1) return { status: 400, reason: 'more than one content-length' };
  const name = authority ?? host;
  if (name === undefined) return { status: 400, reason: 'missing :authority' };
  if (!HOST_RE.test(name)) return { status: 400, reason: 'invalid :authority' };
  if (req.method === 'CONNECT') return { status: 400, reason: 'CONNECT is not supported' };
  const path = req.url;
  if (typeof path !== 'string' || path.charCodeAt(0) !== 47 /* / */ || path.includes('#')) {
    return { status: 400, reason: 'the :path must be an origin-form path' };
  }
  return null;
}
