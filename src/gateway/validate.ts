import type { RouteTable } from './protocol.ts';

/** Checks an untrusted value (a PUT /routes body or the persisted file) against `RouteTable`. */
export function validateRouteTable(value: unknown): { table: RouteTable; errors: [] } | { errors: string[] } {
  const errors: string[] = [];
  if (!isObject(value)) return { errors: ['body must be a JSON object {"version":N,"services":[...]}'] };
  if (!Number.isSafeInteger(value.version) || (value.version as number) < 0) {
    errors.push('version must be a non-negative integer');
  }
  if (!Array.isArray(value.services)) {
    errors.push('services must be an array');
    return { errors };
  }
  const seenRoutes = new Map<string, string>();
  const seenNames = new Set<string>();
  const instanceAddress = new Map<string, string>();
  value.services.forEach((s: unknown, i: number) => {
    const at = `services[${i}]`;
    if (!isObject(s)) {
      errors.push(`${at} must be an object`);
      return;
    }
    const name = typeof s.name === 'string' && s.name !== '' ? s.name : undefined;
    if (name === undefined) errors.push(`${at}.name must be a non-empty string`);
    else if (seenNames.has(name)) errors.push(`${at}.name "${name}" appears twice`);
    else seenNames.add(name);
    const label = name ? `${at} ("${name}")` : at;
    if (typeof s.host !== 'string' || s.host === '' || /\s|\//.test(s.host)) {
      errors.push(`${label}.host must be "*" or a host name`);
    }
    if (typeof s.pathPrefix !== 'string' || !s.pathPrefix.startsWith('/')) {
      errors.push(`${label}.pathPrefix must be a string starting with "/"`);
    }
    if (typeof s.host === 'string' && typeof s.pathPrefix === 'string') {
      const key = `${s.host.toLowerCase()} ${s.pathPrefix}`;
      const other = seenRoutes.get(key);
      if (other !== undefined) {
        errors.push(`${label} has the same host and pathPrefix as service "${other}"`);
      } else seenRoutes.set(key, name ?? at);
    }
    if (s.balance !== 'roundRobin' && s.balance !== 'leastInFlight') {
      errors.push(`${label}.balance must be "roundRobin" or "leastInFlight"`);
    }
    if (!Array.isArray(s.upstreams)) {
      errors.push(`${label}.upstreams must be an array`);
      return;
    }
    const seenInService = new Set<string>();
    s.upstreams.forEach((u: unknown, j: number) => {
      const uat = `${label}.upstreams[${j}]`;
      if (!isObject(u)) {
        errors.push(`${uat} must be an object`);
        return;
      }
      if (typeof u.instance !== 'string' || u.instance === '') {
        errors.push(`${uat}.instance must be a non-empty string`);
      } else if (seenInService.has(u.instance)) {
        errors.push(`${uat}.instance "${u.instance}" appears twice in the service`);
      } else seenInService.add(u.instance);
      if (!Number.isSafeInteger(u.revision)) errors.push(`${uat}.revision must be an integer`);
      if (typeof u.version !== 'string') errors.push(`${uat}.version must be a string`);
      if (typeof u.address !== 'string' || parseAddress(u.address) === undefined) {
        errors.push(`${uat}.address must be "host:port" (got ${JSON.stringify(u.address)})`);
      } else if (typeof u.instance === 'string') {
        const prev = instanceAddress.get(u.instance);
        if (prev !== undefined && prev !== u.address) {
          errors.push(`${uat}: instance "${u.instance}" has two addresses (${prev}, ${u.address})`);
        }
        instanceAddress.set(u.instance, u.address);
      }
    });
  });
  if (errors.length > 0) return { errors };
  return { table: value as unknown as RouteTable, errors: [] };
}

/** `host:port` or `[v6]:port` -> parts; undefined when malformed. */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let host = address.slice(0, colon);
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return undefined;
    host = host.slice(1, -1);
  }
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535 || host === '' || /[\s/]/.test(host)) return undefined;
  return { host, port };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
