/** The gateway settings file the controller writes (see GatewaySettings in protocol.ts). */
import { readFileSync } from 'node:fs';
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
  return errors;
}
