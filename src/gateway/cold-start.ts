/**
 * A cold start (no table yet, or one with a service that has no instance): workers get the table but
 * do not accept, so a client's first request waits in the kernel backlog instead of getting a 404 or
 * 503. Ends when a pushed table gives every service an instance (applied in every worker), or after
 * `startupTimeoutMs`; from then on a service without a ready instance answers 503.
 */
import type { Logger } from '../log/logger.ts';
import type { RouteTable } from './protocol.ts';

/** A table pushed to the gateway in which every service has an instance (a table with none counts too). */
export function routesEveryService(table: RouteTable): boolean {
  return table.version > 0 && table.services.every((s) => s.upstreams.length > 0);
}

export class ColdStart {
  #holding = false;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  readonly #logger: Logger;
  /** Lets every worker accept; `table()`: the table in force, for the timeout's warning. */
  readonly #acceptAll: () => void;
  readonly #table: () => RouteTable;

  constructor(logger: Logger, acceptAll: () => void, table: () => RouteTable) {
    this.#logger = logger;
    this.#acceptAll = acceptAll;
    this.#table = table;
  }

  get holding(): boolean {
    return this.#holding;
  }

  hold(timeoutMs: number): void {
    this.#holding = true;
    this.#startedAt = Date.now();
    this.#timer = setTimeout(() => this.#end('startup timeout'), timeoutMs);
    this.#logger.info('cold start: holding connections until every service has a ready instance', {
      startupTimeoutMs: timeoutMs,
    });
  }

  /** A table every worker applied: the hold ends once it routes every service. */
  applied(table: RouteTable): void {
    if (this.#holding && routesEveryService(table)) this.#end('routed');
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }

  #end(reason: 'routed' | 'startup timeout'): void {
    if (!this.#holding) return;
    this.#holding = false;
    clearTimeout(this.#timer);
    this.#acceptAll();
    const waitedMs = Date.now() - this.#startedAt;
    if (reason === 'routed') {
      this.#logger.info('cold start over: every service routed; accepting connections', { waitedMs });
      return;
    }
    const table = this.#table();
    const unready = table.services.filter((s) => s.upstreams.length === 0).map((s) => s.name);
    this.#logger.warn(
      'startup timeout: accepting connections; services without a ready instance answer 503',
      {
        waitedMs,
        services: unready,
        version: table.version,
      },
    );
  }
}
