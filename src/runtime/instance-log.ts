/**
 * An instance's log file: its stdout and stderr are appended straight to it (the instance never
 * writes into a pipe we own), with a `[cutover]` line at each start and exit, and it is kept under
 * `logMaxBytes` by copytruncate.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { copyFile, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.ts';

function markLine(at: number, text: string): string {
  return `[cutover] ${new Date(at).toISOString()} ${text}\n`;
}

/**
 * Opens `file` for appending (creating its directory), writes the start line and passes the fd to
 * `use` (which hands it to the spawned process); the fd is closed here afterwards. Throws when the
 * file cannot be written.
 */
export function withInstanceLog<T>(file: string, at: number, startText: string, use: (fd: number) => T): T {
  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'a');
  try {
    writeSync(fd, markLine(at, startText));
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

/** Appends a `[cutover]` line; a log file that cannot be written is not an instance failure. */
export function appendInstanceLog(file: string, at: number, text: string): void {
  try {
    appendFileSync(file, markLine(at, text));
  } catch {}
}

/**
 * Every `intervalMs`, copytruncate `file` to `file.1` once it is over `maxBytes`: the instance keeps
 * appending to the same (O_APPEND) fd, so truncation is safe. Returns the timer (clearInterval ends it).
 */
export function startLogRotation(
  file: string,
  maxBytes: number,
  intervalMs: number,
  log: Logger,
): NodeJS.Timeout {
  let rotating = false;
  const rotate = async () => {
    if (rotating) return;
    rotating = true;
    try {
      const st = await stat(file);
      if (st.size > maxBytes) {
        await copyFile(file, `${file}.1`);
        await truncate(file, 0);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.warn('log rotation failed', { file, err: err as Error });
      }
    } finally {
      rotating = false;
    }
  };
  return setInterval(() => void rotate(), intervalMs);
}
