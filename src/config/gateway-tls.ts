/** `gateway.tls` (the HTTPS listener, its certificates, ACME) and `gateway.http2`. */
import { isAbsolute, resolve } from 'node:path';
import { type Ctx, describe, get, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { ACME_KEYS, CERTIFICATE_KEYS, GATEWAY_TLS_KEYS, HOSTNAME_RE, HTTP2_KEYS } from './keys.ts';
import { readListen } from './listen.ts';
import { readBool, readDuration, readInt, readObj, readString } from './read.ts';
import type { GatewayConfig, GatewayTlsConfig } from './types.ts';

export function readGatewayTls(ctx: Ctx, path: Path, raw: unknown): GatewayTlsConfig {
  const o = readObj(ctx, path, raw, GATEWAY_TLS_KEYS) ?? {};
  const tls: GatewayTlsConfig = {
    listen: readListen(ctx, o, path, D.DEFAULT_TLS_LISTEN),
    certificates: readCertificates(ctx, [...path, 'certificates'], get(o, 'certificates')),
    redirectHttp: readBool(ctx, o, path, 'redirectHttp', false),
    handshakeTimeoutMs: readDuration(ctx, o, path, 'handshakeTimeout', D.DEFAULT_TLS_HANDSHAKE_TIMEOUT),
  };
  if (o.hsts !== undefined) tls.hstsSeconds = Math.floor(readDuration(ctx, o, path, 'hsts', '0s', 0) / 1000);
  if (o.acme !== undefined) tls.acme = readAcme(ctx, [...path, 'acme'], o.acme);
  if (tls.certificates.length === 0 && tls.acme === undefined) {
    report(ctx, path, 'needs certificates, acme, or both (nothing to serve HTTPS with)');
  }
  if (tls.certificates.filter((c) => c.default).length > 1) {
    report(ctx, [...path, 'certificates'], 'only one certificate may be the default');
  }
  return tls;
}

function readCertificates(ctx: Ctx, path: Path, raw: unknown): GatewayTlsConfig['certificates'] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    report(ctx, path, `must be a list of { hosts, cert, key }, ${describe(raw)}`);
    return [];
  }
  const out: GatewayTlsConfig['certificates'] = [];
  raw.forEach((item: unknown, i: number) => {
    const p = [...path, String(i)];
    const o = readObj(ctx, p, item, CERTIFICATE_KEYS);
    if (o === undefined) return;
    const hosts = readHosts(ctx, [...p, 'hosts'], get(o, 'hosts'));
    out.push({
      hosts,
      cert: readFile(ctx, o, p, 'cert'),
      key: readFile(ctx, o, p, 'key'),
      default: readBool(ctx, o, p, 'default', false),
    });
  });
  return out;
}

/** Host names a certificate serves: exact names or one `*.` wildcard label. */
function readHosts(ctx: Ctx, path: Path, raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    report(
      ctx,
      path,
      `must be a non-empty list of host names (api.example.com, *.example.com), ${describe(raw)}`,
    );
    return [];
  }
  const out: string[] = [];
  raw.forEach((h: unknown, i: number) => {
    const name = typeof h === 'string' ? h.trim().toLowerCase() : '';
    const bare = name.startsWith('*.') ? name.slice(2) : name;
    if (!HOSTNAME_RE.test(bare)) {
      report(ctx, [...path, String(i)], `must be a host name or *.wildcard, ${describe(h)}`);
      return;
    }
    out.push(name);
  });
  return out;
}

function readFile(ctx: Ctx, o: Record<string, unknown>, path: Path, key: string): string {
  const v = readString(ctx, o, path, key, undefined);
  if (v === undefined) return '';
  if (v === '') {
    report(ctx, [...path, key], 'must be the path of a PEM file');
    return '';
  }
  return isAbsolute(v) ? resolve(v) : resolve(ctx.baseDir, v);
}

function readAcme(ctx: Ctx, path: Path, raw: unknown): NonNullable<GatewayTlsConfig['acme']> {
  const o = readObj(ctx, path, raw, ACME_KEYS) ?? {};
  const directory = readString(ctx, o, path, 'directory', '') ?? '';
  if (directory === '') report(ctx, [...path, 'directory'], 'is required: the ACME directory URL');
  else if (!/^https?:\/\/[^\s/]+/.test(directory))
    report(ctx, [...path, 'directory'], `must be an http(s) URL, ${describe(directory)}`);
  const email = readString(ctx, o, path, 'email', '') ?? '';
  if (email === '') report(ctx, [...path, 'email'], 'is required: the contact address for the ACME account');
  else if (!/^[^\s@]+@[^\s@]+$/.test(email))
    report(ctx, [...path, 'email'], `must be an e-mail address, ${describe(email)}`);
  const acme: NonNullable<GatewayTlsConfig['acme']> = { directory, email };
  if (o.caCert !== undefined) acme.caCert = readFile(ctx, o, path, 'caCert');
  return acme;
}

export function readHttp2(ctx: Ctx, path: Path, raw: unknown): GatewayConfig['http2'] {
  const o = readObj(ctx, path, raw ?? {}, HTTP2_KEYS) ?? {};
  return {
    cleartext: readBool(ctx, o, path, 'cleartext', false),
    maxConcurrentStreams: readInt(
      ctx,
      o,
      path,
      'maxConcurrentStreams',
      D.DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
      1,
      1_000_000,
    ),
  };
}
