/**
 * Before a new gateway master starts after its host went down whole (gateway and instances
 * gone), the persisted routing table still lists the dead instances. Served as is, it answers
 * 502s, and its health endpoint tells the load balancer the host is fine. Pruned to the
 * instances that still run, it leaves the new master holding connections (cold start) until the
 * controller pushes routes with ready instances.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { RouteTable } from '../gateway/protocol.ts';

/** Pure: the table without upstreams that are not alive; null when nothing changes. */
export function pruneTable(table: RouteTable, alive: (instance: string) => boolean): RouteTable | null {
  let dropped = 0;
  const services = table.services.map((s) => {
    const upstreams = s.upstreams.filter((u) => alive(u.instance));
    dropped += s.upstreams.length - upstreams.length;
    return upstreams.length === s.upstreams.length ? s : { ...s, upstreams };
  });
  return dropped === 0 ? null : { ...table, services };
}

/** Rewrites `file` without dead upstreams; returns the instance ids dropped (none: untouched). */
export function pruneRoutesFile(file: string, alive: (instance: string) => boolean): string[] {
  let table: RouteTable;
  try {
    table = JSON.parse(readFileSync(file, 'utf8')) as RouteTable;
    if (!Array.isArray(table.services)) return [];
  } catch {
    return []; // first start, or a file the gateway itself reports as invalid
  }
  const next = pruneTable(table, alive);
  if (!next) return [];
  const dropped = table.services.flatMap((s) =>
    s.upstreams.filter((u) => !alive(u.instance)).map((u) => u.instance),
  );
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
  renameSync(tmp, file);
  return dropped;
}
