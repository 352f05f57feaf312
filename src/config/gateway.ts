/** `gateway`: the listener, timeouts, limits, trusted proxies and access log of the gateway. */
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { type Ctx, describe, get, type Obj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { readGatewayTls, readHttp2 } from './gateway-tls.ts';
import { ACCESS_LOG_KEYS, GATEWAY_KEYS, HEALTH_KEYS } from './keys.ts';
import { readListen } from './listen.ts';
import { readBool, readDuration, readInt, readObj, readSize, readString } from './read.ts';
import type { GatewayConfig, GatewayHealthConfig } from './types.ts';

export function validateGateway(ctx: Ctx, raw: unknown): GatewayConfig {
  const path = ['gateway'];
  const o = readObj(ctx, path, raw, GATEWAY_KEYS) ?? {};
  return {
    listen: readListen(ctx, o, path, D.DEFAULT_GATEWAY_LISTEN),
    workers: readInt(ctx, o, path, 'workers', D.DEFAULT_GATEWAY_WORKERS, 1),
    connectTimeoutMs: readDuration(ctx, o, path, 'connectTimeout', D.DEFAULT_CONNECT_TIMEOUT),
    upstreamTimeoutMs: readDuration(ctx, o, path, 'upstreamTimeout', D.DEFAULT_UPSTREAM_TIMEOUT),
    upstreamIdleTimeoutMs: readDuration(ctx, o, path, 'upstreamIdleTimeout', D.DEFAULT_UPSTREAM_IDLE_TIMEOUT),
    clientIdleTimeoutMs: readDuration(ctx, o, path, 'clientIdleTimeout', D.DEFAULT_CLIENT_IDLE_TIMEOUT),
    requestHeadTimeoutMs: readDuration(ctx, o, path, 'requestHeadTimeout', D.DEFAULT_REQUEST_HEAD_TIMEOUT),
    maxBodyBytes: readSize(ctx, o, path, 'maxBodySize', D.DEFAULT_MAX_BODY_SIZE, 0),
    maxHeaderBytes: readMaxHeaderSize(ctx, o, path),
    maxHeaders: readInt(ctx, o, path, 'maxHeaders', D.DEFAULT_MAX_HEADERS, 1, 10_000),
    trustedProxies: readTrustedProxies(ctx, o, path),
    retries: readInt(ctx, o, path, 'retries', D.DEFAULT_RETRIES, 0),
    ejectAfterFailures: readInt(ctx, o, path, 'ejectAfterFailures', D.DEFAULT_EJECT_AFTER_FAILURES, 1),
    ejectForMs: readDuration(ctx, o, path, 'ejectFor', D.DEFAULT_EJECT_FOR),
    startupTimeoutMs: readDuration(ctx, o, path, 'startupTimeout', D.DEFAULT_STARTUP_TIMEOUT),
    http2: readHttp2(ctx, [...path, 'http2'], o.http2),
    health: readHealth(ctx, [...path, 'health'], o.health),
    ...(o.maxConnections === undefined ? {} : { maxConnections: readMaxConnections(ctx, o, path) }),
    ...(o.tls === undefined ? {} : { tls: readGatewayTls(ctx, [...path, 'tls'], o.tls) }),
    ...(o.accessLog === undefined
      ? {}
      : { accessLog: readAccessLog(ctx, [...path, 'accessLog'], o.accessLog) }),
  };
}

/** `gateway.health: { path }` or `false` (off); absent: on, at the default path. */
function readHealth(ctx: Ctx, path: Path, raw: unknown): GatewayHealthConfig | false {
  if (raw === false) return false;
  if (raw === true) return { path: D.DEFAULT_HEALTH_PATH };
  const o = readObj(ctx, path, raw, HEALTH_KEYS) ?? {};
  const p = readString(ctx, o, path, 'path', D.DEFAULT_HEALTH_PATH) ?? D.DEFAULT_HEALTH_PATH;
  const problem = healthPathProblem(p);
  if (problem !== null) report(ctx, [...path, 'path'], `${problem}, ${describe(p)}`);
  return { path: p };
}

/**
 * Why `p` cannot be the health path (null: it can). Shared with the gateway's settings check. It is
 * compared with the request path as sent, so it is kept to what a balancer can send verbatim.
 */
export function healthPathProblem(p: unknown): string | null {
  if (typeof p !== 'string' || !p.startsWith('/')) return 'must be a path starting with "/"';
  if (p.includes('?')) return 'must not contain "?" (the query of a health check is ignored)';
  if (p.includes('#')) return 'must not contain "#"';
  if (hasSpaceOrControl(p)) return 'must not contain spaces or control characters';
  return null;
}

function hasSpaceOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) return true;
  }
  return false;
}

/** `gateway.accessLog: { enabled, sample, file }`: sampled JSON lines, one per request. */
function readAccessLog(
  ctx: Ctx,
  path: Path,
  raw: unknown,
): { enabled: boolean; sample: number; file?: string } {
  const o = readObj(ctx, path, raw, ACCESS_LOG_KEYS) ?? {};
  const enabled = readBool(ctx, o, path, 'enabled', true);
  let sample = 1;
  if (o.sample !== undefined) {
    if (typeof o.sample !== 'number' || !(o.sample >= 0 && o.sample <= 1)) {
      report(ctx, [...path, 'sample'], 'must be a number from 0 to 1 (the share of requests logged)');
    } else sample = o.sample;
  }
  const file = readString(ctx, o, path, 'file', '');
  return file
    ? { enabled, sample, file: isAbsolute(file) ? resolve(file) : resolve(ctx.baseDir, file) }
    : { enabled, sample };
}

function readMaxHeaderSize(ctx: Ctx, o: Obj, path: Path): number {
  const n = readSize(ctx, o, path, 'maxHeaderSize', D.DEFAULT_MAX_HEADER_SIZE, 1024);
  if (n > 1024 * 1024) report(ctx, [...path, 'maxHeaderSize'], 'must be at most 1MB');
  return n;
}

/** A list of IPs or CIDR ranges (`10.0.0.0/8`, `::1`). */
function readTrustedProxies(ctx: Ctx, o: Obj, path: Path): string[] {
  const raw = get(o, 'trustedProxies');
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    report(
      ctx,
      [...path, 'trustedProxies'],
      `must be a list of IP addresses or CIDR ranges, ${describe(raw)}`,
    );
    return [];
  }
  const out: string[] = [];
  raw.forEach((item: unknown, i: number) => {
    const p = [...path, 'trustedProxies', String(i)];
    if (typeof item !== 'string') {
      report(ctx, p, `must be an IP address or CIDR range, ${describe(item)}`);
      return;
    }
    const s = item.trim();
    const slash = s.indexOf('/');
    const kind = isIP(slash === -1 ? s : s.slice(0, slash));
    const max = kind === 4 ? 32 : 128;
    const prefix = slash === -1 ? '' : s.slice(slash + 1);
    if (kind === 0 || (slash !== -1 && (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > max))) {
      report(ctx, p, `must be an IP address or CIDR range (e.g. 10.0.0.0/8, ::1), ${describe(item)}`);
      return;
    }
    out.push(s);
  });
  return out;
}

/** `maxConnections`: an integer >= 1 (each worker holds ceil(max / workers)). */
function readMaxConnections(ctx: Ctx, o: Obj, path: Path): number {
  return readInt(ctx, o, path, 'maxConnections', 1, 1);
}
