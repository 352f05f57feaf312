import type { CutoverConfig } from './types.ts';

/**
 * How a config change takes effect: `live` (next reconcile, nothing restarts), `new-revision`
 * (a service's version or run template changed: rolled out with its strategy), `added` /
 * `removed` (a whole service), `restart` (gateway/control listeners and settings: need
 * `cutover reload` or a restart of `cutover up`; not applied by `apply`), `reload` (the gateway's
 * certificates, TLS and HTTP/2 settings: applied by rewriting the gateway settings and reloading it, a
 * new worker generation on the same sockets). `notifications` is compared as a whole list. Anything
 * under `cluster` needs a restart (the etcd session, this host's identity and leases are set up once);
 * `cluster` added or removed is one change. A service's `hosts` and `strategy.hostsAtOnce` are live.
 */
export type ChangeEffect = 'live' | 'new-revision' | 'added' | 'removed' | 'restart' | 'reload';

export interface ConfigChange {
  path: string;
  from?: unknown;
  to?: unknown;
  effect: ChangeEffect;
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) out.set(prefix, {});
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, value);
}

/** Shown instead of the etcd password: `apply` answers travel over the API and into terminals. */
export const REDACTED = '(redacted)';
const SECRET_PATHS: ReadonlySet<string> = new Set(['cluster.etcd.password']);

function effectOf(path: string, bothHaveTls: boolean): ChangeEffect {
  if (path === 'cluster' || path.startsWith('cluster.')) return 'restart';
  if (path.startsWith('gateway.http2.')) return 'reload';
  // Workers size their server's maxConnections from the settings a reload gives them.
  if (path === 'gateway.maxConnections') return 'reload';
  // Workers read the health path from the settings a reload gives them.
  if (path === 'gateway.health' || path.startsWith('gateway.health.')) return 'reload';
  // A TLS listener added, removed or moved needs a new socket; anything else about TLS reloads.
  if (path.startsWith('gateway.tls.') && bothHaveTls && !path.startsWith('gateway.tls.listen.'))
    return 'reload';
  if (path.startsWith('gateway.') || path.startsWith('control.')) return 'restart';
  // The webhook sender is built once at start.
  if (path === 'notifications') return 'restart';
  const m = /^services\.[^.]+\.(.+)$/.exec(path);
  if (m && (m[1] === 'version' || m[1].startsWith('run.'))) return 'new-revision';
  return 'live';
}

/** Every difference between two validated configs, classified by how it takes effect. Pure. */
export function diffConfig(from: CutoverConfig, to: CutoverConfig): ConfigChange[] {
  const changes: ConfigChange[] = [];
  const names = new Set([...Object.keys(from.services), ...Object.keys(to.services)]);
  for (const name of names) {
    const a = from.services[name];
    const b = to.services[name];
    if (!a) changes.push({ path: `services.${name}`, effect: 'added' });
    else if (!b) changes.push({ path: `services.${name}`, effect: 'removed' });
  }
  const fa = new Map<string, unknown>();
  const fb = new Map<string, unknown>();
  // Fleet mode switched on or off is one change, not one per key of the section.
  const clusters = from.cluster !== undefined && to.cluster !== undefined;
  if (!clusters && (from.cluster !== undefined || to.cluster !== undefined)) {
    changes.push({ path: 'cluster', effect: 'restart' });
  }
  const top = (c: CutoverConfig) => ({
    gateway: c.gateway,
    control: c.control,
    services: c.services,
    notifications: c.notifications ?? [],
    ...(clusters ? { cluster: c.cluster } : {}),
  });
  flatten(top(from), '', fa);
  flatten(top(to), '', fb);
  for (const path of new Set([...fa.keys(), ...fb.keys()])) {
    const svc = /^services\.([^.]+)/.exec(path)?.[1];
    if (svc && (!from.services[svc] || !to.services[svc])) continue;
    const x = fa.get(path);
    const y = fb.get(path);
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    const change: ConfigChange = {
      path,
      effect: effectOf(path, from.gateway.tls !== undefined && to.gateway.tls !== undefined),
    };
    const secret = SECRET_PATHS.has(path);
    if (fa.has(path)) change.from = secret ? REDACTED : x;
    if (fb.has(path)) change.to = secret ? REDACTED : y;
    changes.push(change);
  }
  return changes.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
}
