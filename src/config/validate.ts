/**
 * Schema validation over plain JavaScript values (what YAML or a JSON API body parses into).
 * Every problem is collected; nothing throws on bad input. Line numbers are supplied by the caller
 * through `Ctx.line` (see load.ts), so the same code validates API bodies (no lines).
 * Each section has its own module (gateway.ts, control.ts, service.ts, ...); this is the file's root.
 */
import { type HostFacts, validateClusterAt } from './cluster.ts';
import { validateControl } from './control.ts';
import { type Ctx, describe, get, isObj, report, setOwn } from './ctx.ts';
import { checkFaultsAllowed } from './faults.ts';
import { checkFleetKeysNeedCluster } from './fleet.ts';
import { validateGateway } from './gateway.ts';
import { TOP_LEVEL_KEYS } from './keys.ts';
import { listenersCollide } from './listen.ts';
import { validateNotificationsAt } from './notifications.ts';
import { readBool, readObj } from './read.ts';
import { findRouteConflicts } from './routes.ts';
import { validateServiceAt } from './service.ts';
import type { CutoverConfig, ServiceConfig } from './types.ts';

export function validateRoot(
  ctx: Ctx,
  raw: unknown,
  file: string | undefined,
  facts: HostFacts,
): CutoverConfig | undefined {
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
  if (gateway.tls !== undefined) {
    for (const [other, at] of [
      [gateway.listen, 'gateway.listen'],
      [control.listen, 'control.listen'],
    ] as const) {
      if (listenersCollide(gateway.tls.listen, other)) {
        report(
          ctx,
          ['gateway', 'tls', 'listen'],
          `must differ from ${at} (both use ${other.host}:${other.port})`,
        );
      }
    }
  }
  const rawHttp2 = get(
    isObj(get(o, 'gateway')) ? (get(o, 'gateway') as Record<string, unknown>) : {},
    'http2',
  );
  if (
    isObj(rawHttp2) &&
    rawHttp2.maxConcurrentStreams !== undefined &&
    gateway.tls === undefined &&
    !gateway.http2.cleartext
  ) {
    report(
      ctx,
      ['gateway', 'http2', 'maxConcurrentStreams'],
      'has no effect: HTTP/2 clients need gateway.tls or gateway.http2.cleartext: true',
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
    for (const s of Object.values(services)) {
      if (s.protocol === 'grpc' && gateway.tls === undefined && !gateway.http2.cleartext) {
        report(
          ctx,
          ['services', s.name, 'protocol'],
          'grpc clients speak HTTP/2 only: set gateway.tls, or gateway.http2.cleartext: true for plaintext gRPC',
        );
      }
    }
    for (const issue of findRouteConflicts(Object.values(services))) {
      const name = issue.path.slice('services.'.length, -'.route'.length);
      report(ctx, ['services', name, 'route'], issue.message);
    }
  }
  const config: CutoverConfig = { gateway, control, services };
  if (get(o, 'allowFaults') !== undefined) config.allowFaults = readBool(ctx, o, [], 'allowFaults', false);
  checkFaultsAllowed(ctx, Object.values(services), config.allowFaults);
  // `cluster:` with an empty value is still fleet mode (and reports its missing endpoints).
  if (Object.hasOwn(o, 'cluster')) {
    config.cluster = validateClusterAt(ctx, o.cluster, control, facts);
  } else checkFleetKeysNeedCluster(ctx, rawServices);
  const rawNotifications = get(o, 'notifications');
  if (rawNotifications !== undefined) {
    config.notifications = validateNotificationsAt(ctx, ['notifications'], rawNotifications);
  }
  if (file !== undefined) return { file, ...config };
  return config;
}
