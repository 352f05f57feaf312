/**
 * The fleet keys of a service: `services.<name>.hosts` and the rolling `strategy.hostsAtOnce`, and the
 * rule that both need a `cluster:` section. Host names are those of `cluster.host`.
 */
import { type Ctx, describe, get, isObj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { FLEET_HOST_RE } from './keys.ts';
import type { Checked } from './read.ts';
import type { IntOrPercent } from './types.ts';

const HOST_NAME_HINT =
  'must be 1-63 lowercase letters, digits, "." or "-", starting with a letter or digit (like cluster.host)';

/** A fleet host name (`cluster.host`, an item of `services.<name>.hosts`). */
export function checkHostName(raw: unknown): Checked<string> {
  if (typeof raw === 'string' && FLEET_HOST_RE.test(raw)) return { ok: true, value: raw };
  return { ok: false, error: `${HOST_NAME_HINT}, ${describe(raw)}` };
}

/** `services.<name>.hosts`: `all` (the default) or a non-empty list of distinct host names. */
export function readServiceHosts(ctx: Ctx, path: Path, raw: unknown): string[] | 'all' {
  if (raw === undefined || raw === null || raw === D.DEFAULT_SERVICE_HOSTS) return D.DEFAULT_SERVICE_HOSTS;
  if (!Array.isArray(raw) || raw.length === 0) {
    report(
      ctx,
      path,
      `must be "all" or a non-empty list of host names (e.g. [web-1, web-2]), ${describe(raw)}`,
    );
    return D.DEFAULT_SERVICE_HOSTS;
  }
  const out: string[] = [];
  raw.forEach((item: unknown, i: number) => {
    const p = [...path, String(i)];
    const r = checkHostName(item);
    if (!r.ok) report(ctx, p, r.error);
    else if (out.includes(r.value)) report(ctx, p, `duplicate host "${r.value}"`);
    else out.push(r.value);
  });
  return out;
}

const HOSTS_AT_ONCE_HINT = 'must be an integer >= 1 or a percentage of the hosts from "1%" to "100%"';

/** `strategy.hostsAtOnce`: an integer >= 1, or "N%" with N in 1..100 (of the service's hosts, rounded up). */
export function checkHostsAtOnce(raw: unknown): Checked<IntOrPercent> {
  if (typeof raw === 'number') {
    if (Number.isSafeInteger(raw) && raw >= 1) return { ok: true, value: raw };
    return { ok: false, error: `${HOSTS_AT_ONCE_HINT}, ${describe(raw)}` };
  }
  const m = typeof raw === 'string' ? /^(\d{1,3})%$/.exec(raw.trim()) : null;
  const n = m ? Number(m[1]) : Number.NaN;
  if (n >= 1 && n <= 100) return { ok: true, value: `${n}%` };
  return { ok: false, error: `${HOSTS_AT_ONCE_HINT}, ${describe(raw)}` };
}

const SINGLE_HOST = 'only with cluster: — single-host mode runs every service on this host';

/**
 * Without `cluster:` the fleet keys mean nothing: each one written in `rawServices` is an error (the
 * parsed service cannot tell an absent `hosts` from `hosts: all`, so this looks at the file's values).
 */
export function checkFleetKeysNeedCluster(ctx: Ctx, rawServices: unknown): void {
  if (!isObj(rawServices)) return;
  for (const [name, raw] of Object.entries(rawServices)) {
    if (!isObj(raw)) continue;
    if (get(raw, 'hosts') !== undefined) report(ctx, ['services', name, 'hosts'], SINGLE_HOST);
    const strategy = get(raw, 'strategy');
    // On blueGreen or canary the strategy already rejects the key; one error is enough.
    const rolling = isObj(strategy) && (get(strategy, 'type') ?? D.DEFAULT_STRATEGY_TYPE) === 'rolling';
    if (rolling && get(strategy, 'hostsAtOnce') !== undefined) {
      report(ctx, ['services', name, 'strategy', 'hostsAtOnce'], SINGLE_HOST);
    }
  }
}
