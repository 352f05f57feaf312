/** `gateway.listen` and `control.listen`: `host:port` addresses, and whether two of them collide. */
import { type Ctx, describe, get, type Obj, type Path } from './ctx.ts';
import * as D from './defaults.ts';
import { HOSTNAME_RE } from './keys.ts';
import { accept, type Checked } from './read.ts';
import type { HostPort } from './types.ts';

export type HostPortResult = Checked<HostPort>;

const LISTEN_HINT = 'must be "host:port" (e.g. 127.0.0.1:8080, [::1]:8080) or a port number';

/** Parses `host:port`, `[ipv6]:port`, or a bare port (host 127.0.0.1). Port 0 is allowed. */
export function parseHostPort(raw: unknown): HostPortResult {
  let host: string;
  let portText: string;
  if (typeof raw === 'number') {
    host = D.DEFAULT_LISTEN_HOST;
    portText = String(raw);
  } else if (typeof raw === 'string') {
    const s = raw.trim();
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(s);
    const colon = s.lastIndexOf(':');
    if (/^\d+$/.test(s)) {
      host = D.DEFAULT_LISTEN_HOST;
      portText = s;
    } else if (v6) {
      host = v6[1];
      portText = v6[2];
    } else if (colon > 0 && s.indexOf(':') === colon) {
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
      if (!HOSTNAME_RE.test(host))
        return { ok: false, error: `${LISTEN_HINT}; "${host}" is not a valid host` };
    } else if (colon === 0) {
      return { ok: false, error: `${LISTEN_HINT}; the host is missing (use 0.0.0.0${s} for all interfaces)` };
    } else {
      return { ok: false, error: `${LISTEN_HINT}, ${describe(raw)}` };
    }
  } else {
    return { ok: false, error: `${LISTEN_HINT}, ${describe(raw)}` };
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    return {
      ok: false,
      error: `port must be an integer between 0 and 65535, got ${JSON.stringify(portText)}`,
    };
  }
  return { ok: true, value: { host, port: Number(portText) } };
}

export function readListen(ctx: Ctx, o: Obj, path: Path, def: string): HostPort {
  const raw = get(o, 'listen') ?? def;
  return accept(ctx, [...path, 'listen'], parseHostPort(raw)) ?? { host: D.DEFAULT_LISTEN_HOST, port: 0 };
}

/** The host a bind to `h` occupies, in one spelling: localhost is 127.0.0.1, `::` is every address. */
function boundHost(h: string): string {
  const l = h.toLowerCase();
  return l === 'localhost' ? '127.0.0.1' : l === '::' ? '0.0.0.0' : l;
}

/** True when binding both addresses would collide (same non-zero port on overlapping hosts). */
export function listenersCollide(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  const ha = boundHost(a.host);
  const hb = boundHost(b.host);
  return ha === hb || ha === '0.0.0.0' || hb === '0.0.0.0';
}
