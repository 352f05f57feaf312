/**
 * Schema validation over plain JavaScript values (what YAML or a JSON API body parses into).
 * Every problem is collected; nothing throws on bad input. Line numbers are supplied by the caller
 * through `Ctx.line` (see load.ts), so the same code validates API bodies (no lines).
 */
import { isAbsolute, resolve } from 'node:path';
import * as D from './defaults.ts';
import { formatDuration, tryParseDuration } from './duration.ts';
import { tryParseSize } from './size.ts';
import { didYouMean } from './suggest.ts';
import type {
  ConfigIssue,
  ControlConfig,
  CutoverConfig,
  GatewayConfig,
  HostPort,
  IntOrPercent,
  LoadBalancer,
  ProbeConfig,
  RollingStrategy,
  RunSpec,
  ServiceConfig,
} from './types.ts';

export type Path = readonly string[];

export interface Ctx {
  issues: ConfigIssue[];
  /** Directory relative paths are resolved against (absolute). */
  baseDir: string;
  /** 1-based line of the key at `path` (or of its nearest existing ancestor). */
  line?: (path: Path) => number | undefined;
  /** Original source text of the scalar at `path` (so `version: 1.10` stays "1.10"). */
  source?: (path: Path) => string | undefined;
}

export function newCtx(baseDir: string): Ctx {
  return { issues: [], baseDir: resolve(baseDir) };
}

export function report(ctx: Ctx, path: Path, message: string): void {
  const issue: ConfigIssue = { path: path.join('.'), message };
  const line = ctx.line?.(path);
  if (line !== undefined) issue.line = line;
  ctx.issues.push(issue);
}

// ---------------------------------------------------------------------------------------------
// Key sets

export const TOP_LEVEL_KEYS = ['gateway', 'control', 'services'] as const;
export const GATEWAY_KEYS = [
  'listen',
  'workers',
  'connectTimeout',
  'upstreamTimeout',
  'upstreamIdleTimeout',
  'clientIdleTimeout',
  'requestHeadTimeout',
  'maxBodySize',
  'retries',
  'ejectAfterFailures',
  'ejectFor',
] as const;
export const CONTROL_KEYS = ['listen', 'dataDir'] as const;
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
export const STRATEGY_KEYS = [
  'type',
  'maxSurge',
  'maxUnavailable',
  'minReadySeconds',
  'progressDeadline',
] as const;
export const LOAD_BALANCERS: readonly LoadBalancer[] = ['roundRobin', 'leastInFlight'];
export const SUPPORTED_STRATEGIES = ['rolling'] as const;
export const PLANNED_STRATEGIES = ['blueGreen', 'canary'] as const;

export const SERVICE_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const VERSION_RE = /^[A-Za-z0-9._-]+$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOSTNAME_RE =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

// ---------------------------------------------------------------------------------------------
// Generic readers. Each returns a usable value: on a problem it reports and returns the default
// (the overall result is then a failure anyway, so the value never escapes).

type Obj = Record<string, unknown>;

/** Sets an own, enumerable property even for keys like `__proto__` (which `o[k] = v` would not). */
export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short rendering of a bad value for messages: `got "abc"`, `got a list`. */
export function describe(v: unknown): string {
  if (v === null) return 'got an empty value';
  if (Array.isArray(v)) return 'got a list';
  if (typeof v === 'object') return 'got a mapping';
  if (typeof v === 'string') {
    const s = v.length > 40 ? `${v.slice(0, 37)}...` : v;
    return `got ${JSON.stringify(s)}`;
  }
  return `got ${String(v)}`;
}

/**
 * Reads a mapping: undefined/null -> {} (all defaults); anything else that is not a mapping is
 * reported. Unknown keys are reported (with a suggestion when one is close).
 */
function readObj(ctx: Ctx, path: Path, raw: unknown, keys: readonly string[]): Obj | undefined {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) {
    report(ctx, path, `must be a mapping of keys (${keys.join(', ')}), ${describe(raw)}`);
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (path.length === 0 && k.startsWith('x-')) continue; // extension fields, e.g. for YAML anchors
    if (!keys.includes(k)) report(ctx, [...path, k], `unknown key${didYouMean(k, keys)}`);
  }
  return raw;
}

function get(o: Obj, key: string): unknown {
  const v = Object.hasOwn(o, key) ? o[key] : undefined;
  return v === null ? undefined : v;
}

function readDuration(ctx: Ctx, o: Obj, path: Path, key: string, def: string, min: 0 | 1 = 1): number {
  const raw = get(o, key) ?? def;
  const r = tryParseDuration(raw);
  if (!r.ok) {
    report(ctx, [...path, key], `${r.error}, ${describe(raw)}`);
    return 0;
  }
  if (r.ms < min) {
    report(ctx, [...path, key], `must be greater than 0, ${describe(raw)}`);
  }
  return r.ms;
}

function readSize(ctx: Ctx, o: Obj, path: Path, key: string, def: string, min: number): number {
  const raw = get(o, key) ?? def;
  const r = tryParseSize(raw);
  if (!r.ok) {
    report(ctx, [...path, key], `${r.error}, ${describe(raw)}`);
    return 0;
  }
  if (r.bytes < min) report(ctx, [...path, key], `must be at least ${min} byte${min === 1 ? '' : 's'}`);
  return r.bytes;
}

function readInt(ctx: Ctx, o: Obj, path: Path, key: string, def: number, min: number, max?: number): number {
  const raw = get(o, key) ?? def;
  if (
    typeof raw !== 'number' ||
    !Number.isSafeInteger(raw) ||
    raw < min ||
    (max !== undefined && raw > max)
  ) {
    const range = max === undefined ? `>= ${min}` : `between ${min} and ${max}`;
    report(ctx, [...path, key], `must be an integer ${range}, ${describe(raw)}`);
    return def;
  }
  return raw;
}

function readString(ctx: Ctx, o: Obj, path: Path, key: string, def: string | undefined): string | undefined {
  const raw = get(o, key);
  if (raw === undefined) {
    if (def === undefined) report(ctx, [...path, key], 'is required');
    return def;
  }
  if (typeof raw !== 'string') {
    report(ctx, [...path, key], `must be a string, ${describe(raw)}`);
    return undefined;
  }
  return raw;
}

/** Scalars that YAML may have typed (numbers, booleans) as their source text. */
function scalarText(ctx: Ctx, path: Path, raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') {
    return ctx.source?.(path) ?? String(raw);
  }
  return undefined;
}

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
    retries: readInt(ctx, o, path, 'retries', D.DEFAULT_RETRIES, 0),
    ejectAfterFailures: readInt(ctx, o, path, 'ejectAfterFailures', D.DEFAULT_EJECT_AFTER_FAILURES, 1),
    ejectForMs: readDuration(ctx, o, path, 'ejectFor', D.DEFAULT_EJECT_FOR),
  };
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
  return {
    listen: readListen(ctx, o, path, D.DEFAULT_CONTROL_LISTEN),
    dataDir: readDir(ctx, o, path, 'dataDir', D.DEFAULT_DATA_DIR),
  };
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

const INT_OR_PERCENT_HINT = 'must be an integer >= 0 or a percentage like "25%"';

export type IntOrPercentResult =
  | { ok: true; value: IntOrPercent; isZero: boolean }
  | { ok: false; error: string };

/**
 * Validates a Kubernetes-style IntOrString: a non-negative integer, or an integer percentage
 * string "N%" (0..maxPercent). The value is returned as written (number, or "N%" string).
 */
export function checkIntOrPercent(raw: unknown, maxPercent = 100): IntOrPercentResult {
  if (typeof raw === 'number') {
    if (Number.isSafeInteger(raw) && raw >= 0) return { ok: true, value: raw, isZero: raw === 0 };
    return { ok: false, error: `${INT_OR_PERCENT_HINT}, ${describe(raw)}` };
  }
  if (typeof raw === 'string') {
    const m = /^(\d{1,9})%$/.exec(raw.trim());
    if (!m) return { ok: false, error: `${INT_OR_PERCENT_HINT}, ${describe(raw)}` };
    const n = Number(m[1]);
    if (n > maxPercent)
      return { ok: false, error: `percentage must be between 0% and ${maxPercent}%, ${describe(raw)}` };
    return { ok: true, value: `${n}%`, isZero: n === 0 };
  }
  return { ok: false, error: `${INT_OR_PERCENT_HINT}, ${describe(raw)}` };
}

function validateStrategy(ctx: Ctx, path: Path, raw: unknown): RollingStrategy {
  const fallback: RollingStrategy = {
    type: 'rolling',
    maxSurge: D.DEFAULT_MAX_SURGE,
    maxUnavailable: D.DEFAULT_MAX_UNAVAILABLE,
    minReadySeconds: D.DEFAULT_MIN_READY_SECONDS,
    progressDeadlineMs: 0,
  };
  if (raw !== undefined && raw !== null && !isObj(raw)) {
    report(ctx, path, `must be a mapping (type, maxSurge, maxUnavailable, ...), ${describe(raw)}`);
    return fallback;
  }
  const pre = isObj(raw) ? raw : {};
  const type = get(pre, 'type') ?? D.DEFAULT_STRATEGY_TYPE;
  if (type !== 'rolling') {
    if (typeof type === 'string' && (PLANNED_STRATEGIES as readonly string[]).includes(type)) {
      report(ctx, [...path, 'type'], `"${type}" is not supported yet; only "rolling" is available for now`);
    } else {
      const hint =
        typeof type === 'string' ? didYouMean(type, [...SUPPORTED_STRATEGIES, ...PLANNED_STRATEGIES]) : '';
      report(ctx, [...path, 'type'], `must be "rolling", ${describe(type)}${hint}`);
    }
    return fallback; // other keys depend on the type; don't pile on
  }
  const o = readObj(ctx, path, raw, STRATEGY_KEYS) ?? {};
  const intOrPct = (key: string, def: string, maxPercent: number): { value: IntOrPercent; zero: boolean } => {
    const r = checkIntOrPercent(get(o, key) ?? def, maxPercent);
    if (!r.ok) {
      report(ctx, [...path, key], r.error);
      return { value: def, zero: false };
    }
    return { value: r.value, zero: r.isZero };
  };
  const surge = intOrPct('maxSurge', D.DEFAULT_MAX_SURGE, Number.MAX_SAFE_INTEGER);
  const unavailable = intOrPct('maxUnavailable', D.DEFAULT_MAX_UNAVAILABLE, 100);
  if (surge.zero && unavailable.zero) {
    report(
      ctx,
      [...path, get(o, 'maxUnavailable') !== undefined ? 'maxUnavailable' : 'maxSurge'],
      'maxSurge and maxUnavailable must not both be 0 (the rollout could never replace an instance)',
    );
  }
  let minReadySeconds = D.DEFAULT_MIN_READY_SECONDS;
  const mrs = get(o, 'minReadySeconds');
  if (mrs !== undefined) {
    if (typeof mrs !== 'number' || !Number.isFinite(mrs) || mrs < 0) {
      report(ctx, [...path, 'minReadySeconds'], `must be a number of seconds >= 0, ${describe(mrs)}`);
    } else {
      minReadySeconds = mrs;
    }
  }
  return {
    type: 'rolling',
    maxSurge: surge.value,
    maxUnavailable: unavailable.value,
    minReadySeconds,
    progressDeadlineMs: readDuration(ctx, o, path, 'progressDeadline', D.DEFAULT_PROGRESS_DEADLINE),
  };
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
  const service: ServiceConfig = {
    name,
    route: validateRoute(ctx, [...path, 'route'], get(o, 'route')),
    version,
    replicas: readInt(ctx, o, path, 'replicas', D.DEFAULT_REPLICAS, 1),
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
    strategy: validateStrategy(ctx, [...path, 'strategy'], get(o, 'strategy')),
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
  if (service.restartBackoffMaxMs < service.restartBackoffMs) {
    report(
      ctx,
      [...path, get(o, 'restartBackoffMax') !== undefined ? 'restartBackoffMax' : 'restartBackoff'],
      `restartBackoffMax (${formatDuration(service.restartBackoffMaxMs)}) must be >= restartBackoff (${formatDuration(service.restartBackoffMs)})`,
    );
  }
  return service;
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
  if (file !== undefined) return { file, ...config };
  return config;
}
