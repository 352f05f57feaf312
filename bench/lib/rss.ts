/** Resident memory of a process tree, from /proc/PID/status (VmRSS) and the parent links in it. */

import { readdirSync, readFileSync } from 'node:fs';

export interface ProcMem {
  pid: number;
  ppid: number;
  /** VmRSS in kB; 0 for kernel threads and zombies, which have none. */
  rssKb: number;
  name: string;
}

/** Reads Name, Pid, PPid and VmRSS out of the text of /proc/PID/status; null when Pid is missing. */
export function parseStatus(text: string): ProcMem | null {
  const field = (k: string): string | undefined => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1].trim();
  const pid = Number(field('Pid'));
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const rss = /^(\d+)\s*kB$/.exec(field('VmRSS') ?? '');
  return {
    pid,
    ppid: Number(field('PPid') ?? 0),
    rssKb: rss ? Number(rss[1]) : 0,
    name: field('Name') ?? '',
  };
}

/** `root` and every descendant of it in `all`. */
export function treeOf(all: ProcMem[], root: number): ProcMem[] {
  const children = new Map<number, ProcMem[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcMem[] = [];
  const stack = all.filter((p) => p.pid === root);
  while (stack.length > 0) {
    const p = stack.pop() as ProcMem;
    out.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

export function allProcs(): ProcMem[] {
  const out: ProcMem[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const p = parseStatus(readFileSync(`/proc/${e}/status`, 'utf8'));
      if (p) out.push(p);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** RSS of `root` and its descendants now, in kB, with the processes counted. */
export function treeRss(root: number): { kb: number; procs: number; byProcess: ProcMem[] } {
  const tree = treeOf(allProcs(), root);
  return { kb: tree.reduce((a, p) => a + p.rssKb, 0), procs: tree.length, byProcess: tree };
}
