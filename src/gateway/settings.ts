/** The gateway settings file the controller writes (see GatewaySettings in protocol.ts). */
import { readFileSync } from 'node:fs';
import { healthPathProblem } from '../config/gateway.ts';
import type { GatewaySettings } from './protocol.ts';

export function readSettingsFile(file: string): GatewaySettings {
  const settings = JSON.parse(readFileSync(file, 'utf8')) as GatewaySettings;
  const problems = checkSettings(settings);
  if (problems.length > 0) throw new Error(`invalid gateway settings in ${file}: ${problems.join('; ')}`);
  return settings;
}

/** Problems with a settings object (empty when usable). */
export function checkSettings(s: unknown): string[] {
  if (typeof s !== 'object' || s === null) return ['settings must be a JSON object'];
  const o = s as Record<string, unknown>;
  const errors: string[] = [];
  const listen = o.listen as Record<string, unknown> | undefined;
  if (typeof listen !== 'object' || listen === null || typeof listen.host !== 'string') {
    errors.push('listen.host must be a string');
  } else if (
    !Number.isInteger(listen.port) ||
    (listen.port as number) < 0 ||
    (listen.port as number) > 65535
  ) {
    errors.push('listen.port must be an integer 0-65535');
  }
  if (!Number.isInteger(o.workers) || (o.workers as number) < 1)
    errors.push('workers must be an integer >= 1');
  for (const k of ['adminSocket', 'routesFile']) {
    if (typeof o[k] !== 'string' || o[k] === '') errors.push(`${k} must be a non-empty path`);
  }
  for (const k of [
    'connectTimeoutMs',
    'upstreamTimeoutMs',
    'upstreamIdleTimeoutMs',
    'clientIdleTimeoutMs',
    'requestHeadTimeoutMs',
    'maxBodyBytes',
    'retries',
    'ejectAfterFailures',
    'ejectForMs',
    'shutdownTimeoutMs',
  ]) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || (o[k] as number) < 0) {
      errors.push(`${k} must be a number >= 0`);
    }
  }
  if (
    o.startupTimeoutMs !== undefined &&
    !(typeof o.startupTimeoutMs === 'number' && o.startupTimeoutMs >= 0)
  ) {
    errors.push('startupTimeoutMs must be a number >= 0');
  }
  if (o.tls !== undefined) errors.push(...checkTls(o.tls));
  if (o.health !== undefined && o.health !== false) {
    const h = o.health as Record<string, unknown> | null;
    const problem =
      typeof h !== 'object' || h === null ? 'must be {path} or false' : healthPathProblem(h.path);
    if (problem !== null) errors.push(`health.path ${problem}`);
  }
  if (o.hostName !== undefined && (typeof o.hostName !== 'string' || o.hostName === ''))
    errors.push('hostName must be a non-empty string');
  if (o.http2 !== undefined) {
    const h = o.http2 as Record<string, unknown> | null;
    if (typeof h !== 'object' || h === null) errors.push('http2 must be an object');
    else {
      if (!Number.isInteger(h.maxConcurrentStreams) || (h.maxConcurrentStreams as number) < 1)
        errors.push('http2.maxConcurrentStreams must be an integer >= 1');
      if (typeof h.cleartext !== 'boolean') errors.push('http2.cleartext must be true or false');
    }
  }
  return errors;
}

function checkTls(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null) return ['tls must be an object'];
  const t = raw as Record<string, unknown>;
  const errors: string[] = [];
  const listen = t.listen as Record<string, unknown> | undefined;
  if (
    typeof listen !== 'object' ||
    listen === null ||
    typeof listen.host !== 'string' ||
    !Number.isInteger(listen.port)
  )
    errors.push('tls.listen must be {host, port}');
  if (!Array.isArray(t.certificates)) errors.push('tls.certificates must be an array');
  else {
    t.certificates.forEach((c: unknown, i: number) => {
      const cert = c as Record<string, unknown> | null;
      if (
        typeof cert !== 'object' ||
        cert === null ||
        !Array.isArray(cert.hosts) ||
        typeof cert.cert !== 'string' ||
        typeof cert.key !== 'string'
      )
        errors.push(`tls.certificates[${i}] must be {hosts, cert, key}`);
    });
  }
  if (typeof t.redirectHttp !== 'boolean') errors.push('tls.redirectHttp must be true or false');
  if (typeof t.handshakeTimeoutMs !== 'number' || !(t.handshakeTimeoutMs > 0))
    errors.push('tls.handshakeTimeoutMs must be a number > 0');
  if (typeof t.certDir !== 'string' || t.certDir === '') errors.push('tls.certDir must be a non-empty path');
  return errors;
}

/**
 * What a reload runs with: the new settings, except the fields that need a new socket or master (they
 * keep their running value and are named in `kept`). Pure.
 */
export function settingsForReload(
  cur: GatewaySettings,
  next: GatewaySettings,
): { settings: GatewaySettings; kept: string[] } {
  const kept: string[] = [];
  if (next.listen.host !== cur.listen.host || next.listen.port !== cur.listen.port) kept.push('listen');
  if (next.adminSocket !== cur.adminSocket) kept.push('adminSocket');
  if (next.routesFile !== cur.routesFile) kept.push('routesFile');
  if (JSON.stringify(next.tls?.listen) !== JSON.stringify(cur.tls?.listen)) kept.push('tls.listen');
  const tls =
    next.tls === undefined || cur.tls === undefined ? cur.tls : { ...next.tls, listen: cur.tls.listen };
  const settings: GatewaySettings = {
    ...next,
    listen: cur.listen,
    adminSocket: cur.adminSocket,
    routesFile: cur.routesFile,
    ...(tls === undefined ? {} : { tls }),
  };
  return { settings, kept };
}
