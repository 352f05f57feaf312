/**
 * The persisted route table (`routesFile`): read at start so a restarted gateway routes at once, written
 * (atomically, one write at a time) after every table applied.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { FileWriter } from './file-writer.ts';
import type { RouteTable } from './protocol.ts';
import { validateRouteTable } from './validate.ts';

export class RoutesFile {
  readonly file: string;
  readonly logger: Logger;
  readonly #writer: FileWriter;

  constructor(file: string, logger: Logger) {
    this.file = file;
    this.logger = logger;
    this.#writer = new FileWriter(file);
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
    return this.#writer.write(`${JSON.stringify(table, null, 2)}\n`);
  }
}
