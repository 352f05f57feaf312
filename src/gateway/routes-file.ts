/**
 * The persisted route table (`routesFile`): read at start so a restarted gateway routes at once, written
 * (atomically, one write at a time) after every table applied.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { RouteTable } from './protocol.ts';
import { validateRouteTable } from './validate.ts';

export class RoutesFile {
  readonly file: string;
  readonly logger: Logger;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string, logger: Logger) {
    this.file = file;
    this.logger = logger;
  }

  /** The table last written, or null (first start, or a file that is unreadable or invalid: logged). */
  load(): RouteTable | null {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return null; // first start
    }
    try {
      const result = validateRouteTable(JSON.parse(text));
      if ('table' in result) {
        this.logger.info('route table loaded', { file: this.file, version: result.table.version });
        return result.table;
      }
      this.logger.error('ignoring invalid persisted route table', {
        file: this.file,
        problems: result.errors,
      });
    } catch (err) {
      this.logger.error('ignoring unreadable persisted route table', { file: this.file, error: err });
    }
    return null;
  }

  save(table: RouteTable): Promise<void> {
    const file = this.file;
    const write = async () => {
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}`;
      await writeFile(tmp, `${JSON.stringify(table, null, 2)}\n`);
      await rename(tmp, file);
    };
    const p = this.#queue.then(write, write);
    this.#queue = p.catch(() => {});
    return p;
  }
}
