import { readFileSync } from 'node:fs';

/** The state letter of `/proc/<pid>/stat` ('R', 'S', 'Z', ...), or 'gone'. */
export function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return 'gone';
  }
}

/** Running: it exists and is not a zombie (orphaned processes may never be reaped in a container). */
export function alive(pid: number): boolean {
  return !['Z', 'X', 'gone'].includes(procState(pid));
}
