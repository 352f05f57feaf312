/** `services.<name>`: one service, from its name and version to its strategy, analysis and hooks. */
import { validateAnalysisAt } from './analysis.ts';
import { type Ctx, describe, get, isObj, type Obj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { formatDuration } from './duration.ts';
import { readServiceHosts } from './fleet.ts';
import { validateHooksAt } from './hooks.ts';
import {
  GRPC_CODES,
  GRPC_KEYS,
  SERVICE_KEYS,
  SERVICE_NAME_RE,
  UPSTREAM_PROTOCOLS,
  VERSION_RE,
} from './keys.ts';
import { validateProbe } from './probe.ts';
import { readDuration, readInt, readObj, readSize, scalarText } from './read.ts';
import { validateRoute } from './routes.ts';
import { validateRun } from './run.ts';
import { validateStrategyAt } from './strategy.ts';
import { didYouMean } from './suggest.ts';
import { validateTrafficAt } from './traffic.ts';
import { readLoadBalancer, readTrafficPolicy } from './traffic-policy.ts';
import type { ServiceConfig } from './types.ts';

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
  const lb = readLoadBalancer(ctx, [...path, 'loadBalancer'], get(o, 'loadBalancer'));
  const policy = readTrafficPolicy(ctx, path, o, lb.hashKey);
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
    loadBalancer: lb.type,
    logMaxBytes: readSize(ctx, o, path, 'logMaxSize', D.DEFAULT_LOG_MAX_SIZE, 1),
    restartBackoffMs: readDuration(ctx, o, path, 'restartBackoff', D.DEFAULT_RESTART_BACKOFF),
    restartBackoffMaxMs: readDuration(ctx, o, path, 'restartBackoffMax', D.DEFAULT_RESTART_BACKOFF_MAX),
    protocol: readProtocol(ctx, o, path),
    hosts: readServiceHosts(ctx, [...path, 'hosts'], get(o, 'hosts')),
  };
  if (policy !== undefined) service.policy = policy;
  const grpcRaw = get(o, 'grpc');
  if (grpcRaw !== undefined && service.protocol !== 'grpc') {
    report(ctx, [...path, 'grpc'], 'applies only to protocol: grpc (set protocol: grpc or remove it)');
  } else if (service.protocol === 'grpc') {
    service.grpcFailureCodes = readGrpcFailureCodes(ctx, [...path, 'grpc'], grpcRaw);
  }
  const liveness = get(o, 'liveness');
  if (liveness !== undefined) {
    service.liveness = validateProbe(ctx, [...path, 'liveness'], liveness, D.DEFAULT_LIVENESS, 'liveness');
  }
  const rawAnalysis = get(o, 'analysis');
  if (rawAnalysis !== undefined) {
    const analysis = validateAnalysisAt(ctx, [...path, 'analysis'], rawAnalysis);
    if (analysis) service.analysis = analysis;
    if (analysis?.gate !== undefined && service.strategy.type !== 'rolling') {
      report(
        ctx,
        [...path, 'analysis', 'gate'],
        `applies only to strategy rolling (a ${service.strategy.type} is gated by its own steps): remove it`,
      );
    }
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

function readProtocol(ctx: Ctx, o: Obj, path: Path): ServiceConfig['protocol'] {
  const raw = get(o, 'protocol') ?? 'http';
  if (typeof raw === 'string' && (UPSTREAM_PROTOCOLS as readonly string[]).includes(raw)) {
    return raw as ServiceConfig['protocol'];
  }
  const hint = typeof raw === 'string' ? didYouMean(raw, UPSTREAM_PROTOCOLS) : '';
  report(
    ctx,
    [...path, 'protocol'],
    `must be "http" (HTTP/1.1), "h2c" (HTTP/2 cleartext) or "grpc", ${describe(raw)}${hint}`,
  );
  return 'http';
}

/** `grpc.failureCodes`: names (UNAVAILABLE) or numbers (14); OK cannot be a failure. */
function readGrpcFailureCodes(ctx: Ctx, path: Path, raw: unknown): number[] {
  const o = readObj(ctx, path, raw ?? {}, GRPC_KEYS) ?? {};
  const list = get(o, 'failureCodes') ?? D.DEFAULT_GRPC_FAILURE_CODES;
  const p = [...path, 'failureCodes'];
  if (!Array.isArray(list)) {
    report(
      ctx,
      p,
      `must be a list of gRPC status names or numbers (e.g. [UNAVAILABLE, INTERNAL]), ${describe(list)}`,
    );
    return [];
  }
  const out: number[] = [];
  list.forEach((item: unknown, i: number) => {
    const code =
      typeof item === 'number' ? item : typeof item === 'string' ? GRPC_CODES[item.toUpperCase()] : undefined;
    if (code === undefined || !Number.isInteger(code) || code < 1 || code > 16) {
      const hint = typeof item === 'string' ? didYouMean(item.toUpperCase(), Object.keys(GRPC_CODES)) : '';
      report(
        ctx,
        [...p, String(i)],
        `must be a gRPC status other than OK (1-16 or a name like UNAVAILABLE), ${describe(item)}${hint}`,
      );
      return;
    }
    if (!out.includes(code)) out.push(code);
  });
  return out;
}
