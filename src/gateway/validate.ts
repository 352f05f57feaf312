import { isObj } from '../config/ctx.ts';
import {
  HTTP_TOKEN_RE,
  LOAD_BALANCERS,
  MATCH_KEYS,
  MIRROR_KEYS,
  NAMED_MATCH_KINDS,
  RULE_TARGETS,
  STICKY_SOURCES,
  STRING_MATCH_KINDS,
  TRAFFIC_KEYS,
  UPSTREAM_PROTOCOLS,
} from '../config/keys.ts';
import { compilePattern } from '../config/pattern.ts';
import { faultsProblem } from './faults.ts';
import { routePolicyProblem } from './limit-check.ts';
import type { RouteTable, UpstreamRole } from './protocol.ts';

// The route table carries what config validated (same key sets), plus what the controller adds.
const ROLES: readonly UpstreamRole[] = [...RULE_TARGETS, 'preview'];
const ROUTE_TRAFFIC_KEYS = ['canaryWeight', ...TRAFFIC_KEYS, 'preview', 'mirror'];
const ROUTE_MIRROR_KEYS = [...MIRROR_KEYS, 'maxBodyBytes'];

/** Checks an untrusted value (a PUT /routes body or the persisted file) against `RouteTable`. */
export function validateRouteTable(value: unknown): { table: RouteTable; errors: [] } | { errors: string[] } {
  const errors: string[] = [];
  if (!isObj(value)) return { errors: ['body must be a JSON object {"version":N,"services":[...]}'] };
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
    if (!isObj(s)) {
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
    if (s.protocol !== undefined && !(UPSTREAM_PROTOCOLS as readonly unknown[]).includes(s.protocol)) {
      errors.push(`${label}.protocol must be "http", "h2c" or "grpc"`);
    }
    if (s.longLivedTo !== undefined && !(Number.isInteger(s.longLivedTo) && (s.longLivedTo as number) >= 1)) {
      errors.push(`${label}.longLivedTo must be a revision number >= 1`);
    }
    if (s.grpcFailureCodes !== undefined) {
      const codes = s.grpcFailureCodes;
      if (s.protocol !== 'grpc') errors.push(`${label}.grpcFailureCodes applies only to protocol "grpc"`);
      else if (!Array.isArray(codes) || !codes.every((c) => Number.isInteger(c) && c >= 1 && c <= 16))
        errors.push(`${label}.grpcFailureCodes must be a list of gRPC status numbers 1-16`);
    }
    if (
      s.drainTimeoutMs !== undefined &&
      (typeof s.drainTimeoutMs !== 'number' || !Number.isFinite(s.drainTimeoutMs) || s.drainTimeoutMs < 0)
    ) {
      errors.push(`${label}.drainTimeoutMs must be a number of milliseconds >= 0`);
    }
    if (!(LOAD_BALANCERS as readonly unknown[]).includes(s.balance)) {
      errors.push(`${label}.balance must be one of ${LOAD_BALANCERS.join(', ')}`);
    }
    const policyProblem = routePolicyProblem(s.policy, s.balance);
    if (policyProblem !== null) errors.push(`${label}.policy ${policyProblem}`);
    if (!Array.isArray(s.upstreams)) {
      errors.push(`${label}.upstreams must be an array`);
      return;
    }
    const seenInService = new Set<string>();
    s.upstreams.forEach((u: unknown, j: number) => {
      const uat = `${label}.upstreams[${j}]`;
      if (!isObj(u)) {
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
      if (u.role !== undefined && !(ROLES as readonly unknown[]).includes(u.role)) {
        errors.push(`${uat}.role must be "stable", "canary" or "preview" (got ${JSON.stringify(u.role)})`);
      }
    });
    if (s.traffic !== undefined) validateTraffic(s.traffic, `${label}.traffic`, errors);
    const faults = s.faults === undefined ? null : faultsProblem(s.faults);
    if (faults !== null) errors.push(`${label}.faults ${faults}`);
  });
  if (errors.length > 0) return { errors };
  return { table: value as unknown as RouteTable, errors: [] };
}

/**
 * Checks a `RouteTraffic` and compiles its patterns (with the same checks the config loader applies), so
 * a table whose patterns do not compile is rejected before any worker sees it.
 */
export function validateTraffic(t: unknown, at: string, errors: string[]): void {
  if (!isObj(t)) {
    errors.push(`${at} must be an object`);
    return;
  }
  unknownKeys(t, ROUTE_TRAFFIC_KEYS, at, errors);
  if (!isPercent(t.canaryWeight)) errors.push(`${at}.canaryWeight must be a number from 0 to 100`);
  let sticky = false;
  if (t.stickyBy !== undefined) {
    const s = t.stickyBy;
    if (!isObj(s)) errors.push(`${at}.stickyBy must be an object {"source":...,"name":...}`);
    else {
      if (!(STICKY_SOURCES as readonly unknown[]).includes(s.source)) {
        errors.push(`${at}.stickyBy.source must be "header", "cookie" or "query"`);
      }
      if (typeof s.name !== 'string' || s.name === '')
        errors.push(`${at}.stickyBy.name must be a non-empty string`);
      else if (s.source !== 'query' && !HTTP_TOKEN_RE.test(s.name)) {
        errors.push(`${at}.stickyBy.name ${JSON.stringify(s.name)} is not a valid ${String(s.source)} name`);
      }
      sticky = true;
    }
  }
  if (!Array.isArray(t.rules)) errors.push(`${at}.rules must be an array`);
  else {
    t.rules.forEach((r: unknown, i: number) => {
      const rat = `${at}.rules[${i}]`;
      if (!isObj(r)) {
        errors.push(`${rat} must be an object {"match":{...},"to":...}`);
        return;
      }
      if (!(RULE_TARGETS as readonly unknown[]).includes(r.to))
        errors.push(`${rat}.to must be "stable" or "canary"`);
      validateMatch(r.match, `${rat}.match`, sticky, errors);
    });
  }
  if (t.preview !== undefined) {
    const p = t.preview;
    if (!isObj(p)) errors.push(`${at}.preview must be an object {"header":...,"value":...}`);
    else {
      if (typeof p.header !== 'string' || !HTTP_TOKEN_RE.test(p.header)) {
        errors.push(`${at}.preview.header must be a header name`);
      }
      if (typeof p.value !== 'string') errors.push(`${at}.preview.value must be a string`);
    }
  }
  if (t.mirror !== undefined) {
    const m = t.mirror;
    const mat = `${at}.mirror`;
    if (!isObj(m)) {
      errors.push(`${mat} must be an object`);
      return;
    }
    unknownKeys(m, ROUTE_MIRROR_KEYS, mat, errors);
    if (!isPercent(m.percent)) errors.push(`${mat}.percent must be a number from 0 to 100`);
    if (!Number.isSafeInteger(m.maxBodyBytes) || (m.maxBodyBytes as number) < 0) {
      errors.push(`${mat}.maxBodyBytes must be an integer >= 0`);
    }
    if (
      m.methods !== undefined &&
      (!Array.isArray(m.methods) || !m.methods.every((x) => typeof x === 'string' && HTTP_TOKEN_RE.test(x)))
    ) {
      errors.push(`${mat}.methods must be an array of method names`);
    }
    if (m.pathPrefix !== undefined && (typeof m.pathPrefix !== 'string' || !m.pathPrefix.startsWith('/'))) {
      errors.push(`${mat}.pathPrefix must be a string starting with "/"`);
    }
  }
}

function validateMatch(m: unknown, at: string, sticky: boolean, errors: string[]): void {
  if (!isObj(m)) {
    errors.push(`${at} must be an object`);
    return;
  }
  unknownKeys(m, MATCH_KEYS, at, errors);
  let conditions = 0;
  for (const kind of NAMED_MATCH_KINDS) {
    const map = m[kind];
    if (map === undefined) continue;
    if (!isObj(map)) {
      errors.push(`${at}.${kind} must be an object {NAME: {"exact"|"prefix"|"regex": ...}}`);
      continue;
    }
    for (const [name, sm] of Object.entries(map)) {
      const sat = `${at}.${kind}[${JSON.stringify(name)}]`;
      conditions++;
      if (name === '' || (kind !== 'query' && !HTTP_TOKEN_RE.test(name))) {
        errors.push(`${sat}: ${JSON.stringify(name)} is not a valid ${kind} name`);
      }
      const keys = isObj(sm) ? Object.keys(sm) : [];
      if (keys.length !== 1 || !(STRING_MATCH_KINDS as readonly string[]).includes(keys[0])) {
        errors.push(`${sat} must be {"exact":S}, {"prefix":S} or {"regex":S}`);
        continue;
      }
      const value = (sm as Record<string, unknown>)[keys[0]];
      if (typeof value !== 'string') {
        errors.push(`${sat}.${keys[0]} must be a string`);
        continue;
      }
      if (keys[0] === 'regex') checkPattern(value, `${sat}.regex`, errors);
    }
  }
  if (m.userIn !== undefined) {
    conditions++;
    if (!Array.isArray(m.userIn) || m.userIn.length === 0 || !m.userIn.every((x) => typeof x === 'string')) {
      errors.push(`${at}.userIn must be a non-empty array of strings`);
    } else if (!sticky) errors.push(`${at}.userIn needs traffic.stickyBy (the key it is compared with)`);
  }
  if (m.userAgent !== undefined) {
    conditions++;
    if (typeof m.userAgent !== 'string')
      errors.push(`${at}.userAgent must be a regular expression (a string)`);
    else checkPattern(m.userAgent, `${at}.userAgent`, errors);
  }
  if (conditions === 0) errors.push(`${at} must have at least one condition`);
}

function checkPattern(src: string, at: string, errors: string[]): void {
  const r = compilePattern(src);
  if (!r.ok) errors.push(`${at}: ${r.message}`);
}

function unknownKeys(
  o: Record<string, unknown>,
  known: readonly string[],
  at: string,
  errors: string[],
): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) errors.push(`${at}: unknown field ${JSON.stringify(k)}`);
  }
}

function isPercent(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100;
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
