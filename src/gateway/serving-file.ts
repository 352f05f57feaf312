/**
 * The persisted serving state (`serving.json` beside the route table, in the data dir): a host drained
 * with `serving: false` stays out of its balancer when its gateway restarts (a new master reads it before
 * its workers accept).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import { FileWriter } from './file-writer.ts';
import { parseServing, SERVING, type ServingState } from './health.ts';
import type { GatewaySettings } from './protocol.ts';

const FILE_NAME = 'serving.json';

export function servingFileOf(settings: Pick<GatewaySettings, 'routesFile'>): string {
  return path.join(path.dirname(settings.routesFile), FILE_NAME);
}

export class ServingFile {
  readonly file: string;
  readonly logger: Logger;
  readonly #writer: FileWriter;

  constructor(file: string, logger: Logger) {
    this.file = file;
    this.logger = logger;
    this.#writer = new FileWriter(file);
  }

  /** The state last written; serving when there is none (or it is unreadable: logged). */
  load(): ServingState {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return SERVING;
    }
    try {
      const state = parseServing(JSON.parse(text));
      if (!('error' in state)) {
        if (!state.serving) this.logger.warn('not serving (health check fails), as persisted', { ...state });
        return state;
      }
      this.logger.error('ignoring invalid serving state file', { file: this.file, problem: state.error });
    } catch (err) {
      this.logger.error('ignoring unreadable serving state file', { file: this.file, error: err });
    }
    return SERVING;
  }

  save(state: ServingState): Promise<void> {
    return this.#writer.write(`${JSON.stringify(state)}\n`);
  }
}
