/** The fleet section of `cutover status`: pure text from the API's FleetView. */
import type { FleetRollout, FleetServiceState } from '../core/fleet/model.ts';
import { lagOf } from '../fleet/lag.ts';
import type { FleetView } from '../fleet/view.ts';
import { table } from './format.ts';

/** The services shown: all, or the one asked for (none when the fleet does not run it). */
function shownServices(view: FleetView, only: string | undefined): FleetServiceState[] {
  return only === undefined ? view.services : view.services.filter((s) => s.name === only);
}

/** One row per host and service it is assigned or reports; a host with neither gets one row. */
function hostRows(view: FleetView, services: FleetServiceState[], only: string | undefined): string[][] {
  const rows: string[][] = [];
  for (const h of view.hosts) {
    const state = h.live ? 'live' : 'LOST';
    const drained = h.drained ? 'drained' : '-';
    const mine = services.filter((s) => s.assignments[h.name] || h.report?.services[s.name]);
    if (mine.length === 0) {
      // Asked for one service: a host that has nothing of it is left out.
      if (only === undefined) rows.push([h.name, state, drained, '-', '-', '-', '-', '-', '']);
      continue;
    }
    for (const s of mine) {
      const r = h.report?.services[s.name];
      const lag = lagOf(h, s);
      rows.push([
        h.name,
        state,
        drained,
        s.name,
        r?.stable.version ?? '-',
        r?.outcome ?? '-',
        r ? `${r.ready}/${r.total}` : '-',
        r ? String(r.generation) : '-',
        lag ? `lagging: ${lag}` : (r?.message ?? ''),
      ]);
    }
  }
  return rows;
}

/** `3/5 done (web-1, web-2)`, the wave and the skipped hosts of a rollout. */
function hostsOf(r: FleetRollout): string {
  const parts = [`${r.done.length}/${r.hosts.length} done${r.done.length ? ` (${r.done.join(', ')})` : ''}`];
  if (r.wave.length) parts.push(`wave ${r.wave.join(', ')}`);
  if (r.skipped.length) parts.push(`skipped (lost) ${r.skipped.join(', ')}`);
  return parts.join(', ');
}

/** The line of one service: its fleet rollout, or what every host should run. */
export function formatFleetService(s: FleetServiceState): string {
  const r = s.rollout;
  if (r) {
    const paused = r.phase === 'Paused' ? (r.pausedByUser ? ' by a user' : ' (a host is lost)') : '';
    return `  ${s.name}: ${r.kind} ${r.from.version} -> ${r.to.version} ${r.phase}${paused} (generation ${r.generation}): ${hostsOf(r)}; ${r.message}`;
  }
  const l = s.lastRollout;
  const last = l
    ? `; last rollout ${l.from.version} -> ${l.to.version} ${l.phase}${l.phase === 'RolledBack' && l.reason ? `: ${l.reason}` : ''}`
    : '';
  return `  ${s.name}: desired ${s.desired.version} on every host (generation ${s.generation}${last})`;
}

/** The fleet section: the leader, a host table and the fleet rollout of each service shown. */
export function formatFleet(view: FleetView, only?: string): string {
  const services = shownServices(view, only);
  const out = [`fleet  leader ${view.leader ?? 'none (no controller elected)'}`];
  const rows = hostRows(view, services, only);
  if (rows.length > 0) {
    out.push(
      table(
        ['  HOST', 'STATE', 'DRAINED', 'SERVICE', 'STABLE', 'OUTCOME', 'READY', 'GEN', 'NOTE'],
        rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]),
      ),
    );
  } else out.push('  no hosts');
  if (services.length === 0 && only !== undefined) out.push(`  ${only}: not run by the fleet`);
  for (const s of services) out.push(formatFleetService(s));
  return out.join('\n');
}
