/**
 * Schema validation over plain JavaScript values (what YAML or a JSON API body parses into).
 * Every problem is collected; nothing throws on bad input. Line numbers are supplied by the caller
 * through `Ctx.line` (see load.ts), so the same code validates API bodies (no lines).
 */
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { validateAnalysisAt } from '../analysis/validate.ts';
import * as D from './defaults.ts';
import { formatDuration } from './duration.ts';
import { validateHooksAt } from './hooks.ts';
import { validateNotificationsAt } from './notifications.ts';
import {
  type Ctx,
  describe,
  get,
  isObj,
  type Obj,
  type Path,
  readBool,
  readDuration,
  readInt,
  readObj,
  readSize,
  readString,
  report,
  scalarText,
  setOwn,
} from './read.ts';
import { validateStrategyAt } from './strategy.ts';
import { didYouMean } from './suggest.ts';
import { validateTrafficAt } from './traffic.ts';
import type {
  ConfigIssue,
  ControlConfig,
  CutoverConfig,
  GatewayConfig,
  HostPort,
  LoadBalancer,
  ProbeConfig,
  RunSpec,
  ServiceConfig,
} from './types.ts';

export { type Ctx, describe, newCtx, type Path, report, setOwn } from './read.ts';
export { checkIntOrPercent, type IntOrPercentResult, STRATEGY_KEYS, STRATEGY_TYPES } from './strategy.ts';

// ---------------------------------------------------------------------------------------------
// Key sets

export const TOP_LEVEL_KEYS = ['gateway', 'control', 'services', 'notifications'] as const;
export const GATEWAY_KEYS = [
  'listen',
  'workers',
  'connectTimeout',
  'upstreamTimeout',
  'upstreamIdleTimeout',
  'clientIdleTimeout',
  'requestHeadTimeout',
  'maxBodySize',
  'maxHeaderSize',
  'maxHeaders',
  'trustedProxies',
  'accessLog',
  'retries',
  'ejectAfterFailures',
  'ejectFor',
] as const;
export const CONTROL_KEYS = ['listen', 'dataDir', 'tls'] as const;
export const TLS_KEYS = ['cert', 'key'] as const;
export const SERVICE_KEYS = [
  'route',
  'version',
  'replicas',
  'loadBalancer',
  'run',
  'readiness',
  'liveness',
  'drainTimeout',
  'stopTimeout',
  'logMaxSize',
  'restartBackoff',
  'restartBackoffMax',
  'strategy',
  'traffic',
  'analysis',
  'hooks',
  'revisionHistoryLimit',
] as const;
export const ROUTE_KEYS = ['host', 'pathPrefix'] as const;
export const RUN_KEYS = ['command', 'cwd', 'env'] as const;
export const PROBE_KEYS = [
  'path',
  'interval',
  'timeout',
  'successThreshold',
  'failureThreshold',
  'initialDelay',
] as const;
export const LOAD_BALANCERS: readonly LoadBalancer[] = ['roundRobin', 'leastInFlight'];

export const SERVICE_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const VERSION_RE = /^[A-Za-z0-9._-]+$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOSTNAME_RE =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

// ---------------------------------------------------------------------------------------------
// Listen addresses

export type HostPortResult = { ok: true; value: HostPort } | { ok: false; error: string };

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

function readListen(ctx: Ctx, o: Obj, path: Path, def: string): HostPort {
  const raw = get(o, 'listen') ?? def;
  const r = parseHostPort(raw);
  if (!r.ok) {
    report(ctx, [...path, 'listen'], r.error);
    return { host: D.DEFAULT_LISTEN_HOST, port: 0 };
  }
  return r.value;
}

function normalizeHost(h: string): string {
  const l = h.toLowerCase();
  return l === 'localhost' ? '127.0.0.1' : l === '::' ? '0.0.0.0' : l;
}

/** True when binding both addresses would collide (same non-zero port on overlapping hosts). */
export function listenersCollide(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  const ha = normalizeHost(a.host);
  const hb = normalizeHost(b.host);
  return ha === hb || ha === '0.0.0.0' || hb === '0.0.0.0';
}

// ---------------------------------------------------------------------------------------------
// Sections

function validateGateway(ctx: Ctx, raw: unknown): GatewayConfig {
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
    ...(o.accessLog === undefined
      ? {}
      : { accessLog: readAccessLog(ctx, [...path, 'accessLog'], o.accessLog) }),
  };
}

/** `gateway.accessLog: { enabled, sample, file }`: sampled JSON lines, one per request. */
function readAccessLog(
  ctx: Ctx,
  path: Path,
  raw: unknown,
): { enabled: boolean; sample: number; file?: string } {
  const o = readObj(ctx, path, raw, ['enabled', 'sample', 'file']) ?? {};
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

function readDir(ctx: Ctx, o: Obj, path: Path, key: string, def: string): string {
  const s = readString(ctx, o, path, key, def) ?? def;
  if (s.trim() === '') {
    report(ctx, [...path, key], 'must be a non-empty path');
    return ctx.baseDir;
  }
  if (s.includes('\0')) report(ctx, [...path, key], 'must not contain NUL characters');
  return isAbsolute(s) ? resolve(s) : resolve(ctx.baseDir, s);
}

function validateControl(ctx: Ctx, raw: unknown): ControlConfig {
  const path = ['control'];
  const o = readObj(ctx, path, raw, CONTROL_KEYS) ?? {};
  const control: ControlConfig = {
    listen: readListen(ctx, o, path, D.DEFAULT_CONTROL_LISTEN),
    dataDir: readDir(ctx, o, path, 'dataDir', D.DEFAULT_DATA_DIR),
  };
  if (o.tls !== undefined) {
    const tp = [...path, 'tls'];
    const t = readObj(ctx, tp, o.tls, TLS_KEYS) ?? {};
    const file = (key: 'cert' | 'key'): string => {
      const v = readString(ctx, t, tp, key, undefined);
      if (v === undefined) return '';
      if (v === '') {
        report(ctx, [...tp, key], 'must be the path of a PEM file');
        return '';
      }
      return isAbsolute(v) ? resolve(v) : resolve(ctx.baseDir, v);
    };
    control.tls = { cert: file('cert'), key: file('key') };
  }
  return control;
}

function validateRoute(ctx: Ctx, path: Path, raw: unknown): { host: string; pathPrefix: string } {
  const o = readObj(ctx, path, raw, ROUTE_KEYS) ?? {};
  let host = readString(ctx, o, path, 'host', D.DEFAULT_ROUTE_HOST) ?? D.DEFAULT_ROUTE_HOST;
  host = host.toLowerCase();
  if (host !== '*' && !HOSTNAME_RE.test(host.startsWith('*.') ? host.slice(2) : host)) {
    report(
      ctx,
      [...path, 'host'],
      `must be "*", a host name like api.example.com, or a wildcard like *.example.com (no port), ${describe(host)}`,
    );
  }
  const pathPrefix =
    readString(ctx, o, path, 'pathPrefix', D.DEFAULT_ROUTE_PATH_PREFIX) ?? D.DEFAULT_ROUTE_PATH_PREFIX;
  if (!pathPrefix.startsWith('/')) {
    report(ctx, [...path, 'pathPrefix'], `must start with "/", ${describe(pathPrefix)}`);
  } else if (/[\s?#]/.test(pathPrefix)) {
    report(ctx, [...path, 'pathPrefix'], `must not contain whitespace, "?" or "#", ${describe(pathPrefix)}`);
  }
  return { host, pathPrefix };
}

function validateRun(ctx: Ctx, path: Path, raw: unknown): RunSpec {
  if (raw === undefined || raw === null) {
    report(ctx, path, 'is required (at least run.command)');
    return { command: '', cwd: ctx.baseDir, env: {} };
  }
  const o = readObj(ctx, path, raw, RUN_KEYS);
  if (o === undefined) return { command: '', cwd: ctx.baseDir, env: {} };
  const command = readString(ctx, o, path, 'command', undefined) ?? '';
  if (typeof get(o, 'command') === 'string' && command.trim() === '') {
    report(ctx, [...path, 'command'], 'must not be empty');
  }
  const cwd = readDir(ctx, o, path, 'cwd', D.DEFAULT_RUN_CWD);
  const env: Record<string, string> = {};
  const rawEnv = get(o, 'env');
  if (rawEnv !== undefined) {
    const envPath = [...path, 'env'];
    if (!isObj(rawEnv)) {
      report(ctx, envPath, `must be a mapping of NAME: value, ${describe(rawEnv)}`);
    } else {
      for (const [k, v] of Object.entries(rawEnv)) {
        const p = [...envPath, k];
        if (!ENV_NAME_RE.test(k)) {
          report(
            ctx,
            p,
            'is not a valid environment variable name (letters, digits and _, not starting with a digit)',
          );
        }
        const text = scalarText(ctx, p, v);
        if (text === undefined) {
          report(ctx, p, `must be a string, number or boolean (quote it; use "" for empty), ${describe(v)}`);
        } else if (text.includes('\0')) {
          report(ctx, p, 'must not contain NUL characters');
        } else {
          setOwn(env, k, text);
        }
      }
    }
  }
  return { command, cwd, env };
}

function validateProbe(
  ctx: Ctx,
  path: Path,
  raw: unknown,
  def: typeof D.DEFAULT_READINESS | typeof D.DEFAULT_LIVENESS,
  kind: 'readiness' | 'liveness',
): ProbeConfig {
  const o = readObj(ctx, path, raw, PROBE_KEYS) ?? {};
  const probePath = readString(ctx, o, path, 'path', def.path) ?? def.path;
  if (!probePath.startsWith('/'))
    report(ctx, [...path, 'path'], `must start with "/", ${describe(probePath)}`);
  else if (/[\s#]/.test(probePath)) report(ctx, [...path, 'path'], 'must not contain whitespace or "#"');
  const probe: ProbeConfig = {
    path: probePath,
    intervalMs: readDuration(ctx, o, path, 'interval', def.interval),
    timeoutMs: readDuration(ctx, o, path, 'timeout', def.timeout),
    successThreshold: readInt(ctx, o, path, 'successThreshold', def.successThreshold, 1),
    failureThreshold: readInt(ctx, o, path, 'failureThreshold', def.failureThreshold, 1),
    initialDelayMs: readDuration(ctx, o, path, 'initialDelay', def.initialDelay, 0),
  };
  if (kind === 'liveness' && get(o, 'successThreshold') !== undefined && probe.successThreshold !== 1) {
    report(ctx, [...path, 'successThreshold'], 'must be 1 for liveness probes');
  }
  if (probe.timeoutMs > probe.intervalMs && probe.intervalMs > 0) {
    const key = get(o, 'timeout') !== undefined ? 'timeout' : 'interval';
    report(
      ctx,
      [...path, key],
      `timeout (${formatDuration(probe.timeoutMs)}) must not be longer than interval (${formatDuration(probe.intervalMs)})`,
    );
  }
  return probe;
}

/** Validates a service name; returns an error message or undefined. */
export function checkServiceName(name: string): string | undefined {
  if (!SERVICE_NAME_RE.test(name)) {
    return 'service name must be 1-63 lowercase letters, digits or "-", starting and ending with a letter or digit';
  }
  if (/^\d+$/.test(name)) return 'service name must not be purely numeric';
  return undefined;
}

export function validateServiceAt(
  ctx: Ctx,
  name: string,
  raw: unknown,
  path: Path,
): ServiceConfig | undefined {
  const nameError = checkServiceName(name);
  if (nameError) report(ctx, path, `${nameError}, ${describe(name)}`);
  if (raw === undefined || raw === null || !isObj(raw)) {
    report(ctx, path, `must be a mapping with at least version and run.command, ${describe(raw)}`);
    return undefined;
  }
  const o = readObj(ctx, path, raw, SERVICE_KEYS) ?? {};
  const versionRaw = get(o, 'version');
  let version = '';
  if (versionRaw === undefined) {
    report(ctx, [...path, 'version'], 'is required (e.g. version: v1)');
  } else {
    const text = scalarText(ctx, [...path, 'version'], versionRaw);
    if (text === undefined || !VERSION_RE.test(text)) {
      report(
        ctx,
        [...path, 'version'],
        `must be letters, digits, ".", "_" or "-", ${describe(text ?? versionRaw)}`,
      );
    } else {
      version = text;
    }
  }
  const lbRaw = get(o, 'loadBalancer') ?? D.DEFAULT_LOAD_BALANCER;
  let loadBalancer: LoadBalancer = D.DEFAULT_LOAD_BALANCER;
  if (typeof lbRaw === 'string' && (LOAD_BALANCERS as readonly string[]).includes(lbRaw)) {
    loadBalancer = lbRaw as LoadBalancer;
  } else {
    const hint = typeof lbRaw === 'string' ? didYouMean(lbRaw, LOAD_BALANCERS) : '';
    report(
      ctx,
      [...path, 'loadBalancer'],
      `must be "roundRobin" or "leastInFlight", ${describe(lbRaw)}${hint}`,
    );
  }
  const replicas = readInt(ctx, o, path, 'replicas', D.DEFAULT_REPLICAS, 1);
  const service: ServiceConfig = {
    name,
    route: validateRoute(ctx, [...path, 'route'], get(o, 'route')),
    version,
    replicas,
    run: validateRun(ctx, [...path, 'run'], get(o, 'run')),
    readiness: validateProbe(
      ctx,
      [...path, 'readiness'],
      get(o, 'readiness'),
      D.DEFAULT_READINESS,
      'readiness',
    ),
    drainTimeoutMs: readDuration(ctx, o, path, 'drainTimeout', D.DEFAULT_DRAIN_TIMEOUT, 0),
    stopTimeoutMs: readDuration(ctx, o, path, 'stopTimeout', D.DEFAULT_STOP_TIMEOUT, 0),
    strategy: validateStrategyAt(ctx, [...path, 'strategy'], get(o, 'strategy'), replicas),
    traffic: validateTrafficAt(ctx, [...path, 'traffic'], get(o, 'traffic')),
    revisionHistoryLimit: readInt(ctx, o, path, 'revisionHistoryLimit', D.DEFAULT_REVISION_HISTORY_LIMIT, 0),
    loadBalancer,
    logMaxBytes: readSize(ctx, o, path, 'logMaxSize', D.DEFAULT_LOG_MAX_SIZE, 1),
    restartBackoffMs: readDuration(ctx, o, path, 'restartBackoff', D.DEFAULT_RESTART_BACKOFF),
    restartBackoffMaxMs: readDuration(ctx, o, path, 'restartBackoffMax', D.DEFAULT_RESTART_BACKOFF_MAX),
  };
  const liveness = get(o, 'liveness');
  if (liveness !== undefined) {
    service.liveness = validateProbe(ctx, [...path, 'liveness'], liveness, D.DEFAULT_LIVENESS, 'liveness');
  }
  const rawAnalysis = get(o, 'analysis');
  if (rawAnalysis !== undefined) {
    const analysis = validateAnalysisAt(ctx, [...path, 'analysis'], rawAnalysis);
    if (analysis) service.analysis = analysis;
  } else {
    checkAnalysisSteps(ctx, path, get(o, 'strategy'), service);
  }
  const rawHooks = get(o, 'hooks');
  if (rawHooks !== undefined) service.hooks = validateHooksAt(ctx, [...path, 'hooks'], rawHooks);
  if (service.restartBackoffMaxMs < service.restartBackoffMs) {
    report(
      ctx,
      [...path, get(o, 'restartBackoffMax') !== undefined ? 'restartBackoffMax' : 'restartBackoff'],
      `restartBackoffMax (${formatDuration(service.restartBackoffMaxMs)}) must be >= restartBackoff (${formatDuration(service.restartBackoffMs)})`,
    );
  }
  return service;
}

/** A canary `analysis` step runs the service's `analysis`: without one, each such step is an error. */
function checkAnalysisSteps(ctx: Ctx, path: Path, rawStrategy: unknown, service: ServiceConfig): void {
  if (service.strategy.type !== 'canary' || !isObj(rawStrategy)) return;
  const steps = get(rawStrategy, 'steps');
  if (!Array.isArray(steps)) return;
  const need = [...path, 'analysis'].join('.');
  steps.forEach((step: unknown, i) => {
    if (isObj(step) && Object.hasOwn(step, 'analysis')) {
      report(
        ctx,
        [...path, 'strategy', 'steps', String(i), 'analysis'],
        `analysis step needs ${need} (the metrics it judges; see docs/analysis.md)`,
      );
    }
  });
}

function routeKey(route: { host: string; pathPrefix: string }): string {
  const prefix = route.pathPrefix.length > 1 ? route.pathPrefix.replace(/\/+$/, '') || '/' : route.pathPrefix;
  return `${route.host.toLowerCase()} ${prefix}`;
}

/**
 * Issues for services whose routes collide (same host and pathPrefix, ignoring a trailing "/").
 * `pathOf(name)` gives the issue path prefix of a service (default `services.<name>`).
 */
export function findRouteConflicts(
  services: readonly ServiceConfig[],
  pathOf: (name: string) => string = (n) => `services.${n}`,
): ConfigIssue[] {
  const seen = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const s of services) {
    const key = routeKey(s.route);
    const other = seen.get(key);
    if (other === undefined) {
      seen.set(key, s.name);
    } else {
      issues.push({
        path: `${pathOf(s.name)}.route`,
        message: `same route as service "${other}" (host "${s.route.host}", pathPrefix "${s.route.pathPrefix}"); give each service its own route.host or route.pathPrefix (defaults: "*" and "/")`,
      });
    }
  }
  return issues;
}

export function validateRoot(ctx: Ctx, raw: unknown, file?: string): CutoverConfig | undefined {
  if (raw !== undefined && raw !== null && !isObj(raw)) {
    report(ctx, [], `the file must contain a mapping with gateway, control and services, ${describe(raw)}`);
    return undefined;
  }
  const o = readObj(ctx, [], raw, TOP_LEVEL_KEYS) ?? {};
  const gateway = validateGateway(ctx, get(o, 'gateway'));
  const control = validateControl(ctx, get(o, 'control'));
  if (listenersCollide(gateway.listen, control.listen)) {
    report(
      ctx,
      ['control', 'listen'],
      `must differ from gateway.listen (both use ${control.listen.host}:${control.listen.port})`,
    );
  }
  const services: Record<string, ServiceConfig> = {};
  const rawServices = get(o, 'services');
  if (rawServices !== undefined && !isObj(rawServices)) {
    report(ctx, ['services'], `must be a mapping of service name to service, ${describe(rawServices)}`);
  } else if (rawServices !== undefined) {
    for (const [name, rawService] of Object.entries(rawServices)) {
      const s = validateServiceAt(ctx, name, rawService, ['services', name]);
      if (s) setOwn(services, name, s);
    }
    for (const issue of findRouteConflicts(Object.values(services))) {
      const name = issue.path.slice('services.'.length, -'.route'.length);
      report(ctx, ['services', name, 'route'], issue.message);
    }
  }
  const config: CutoverConfig = { gateway, control, services };
  const rawNotifications = get(o, 'notifications');
  if (rawNotifications !== undefined) {
    config.notifications = validateNotificationsAt(ctx, ['notifications'], rawNotifications);
  }
  if (file !== undefined) return { file, ...config };
  return config;
}
