import type { CoreEvent, ServiceState } from '../core/model.ts';

/** A stored event, as `cutover events` / `history` show it. */
export interface StoredEvent extends CoreEvent {
  id: number;
  time: number;
}

/** A running instance as last recorded (for cleanup after a crash of the controller). */
export interface InstanceRecord {
  id: string;
  service: string;
  revision: number;
  pid?: number;
  port: number;
  createdAt: number;
}

/**
 * The controller's durable state: services (with their rollouts), the events that explain them,
 * and the instances it runs. Today's implementation is SQLite on the host (`SqliteStore`); a
 * store shared by several hosts implements the same.
 */
export interface Store {
  /** Every stored service state, by name, as written (see fromStored in src/core/rollout.ts). */
  loadServices(): Map<string, ServiceState>;
  /** Persists service states and the events that explain them, atomically. */
  commit(states: ServiceState[], events: CoreEvent[], now: number): void;
  /** Forgets a service removed from the config (its events stay). */
  deleteService(name: string): void;
  /** Events oldest first: the newest `limit` after `afterId`, of one service or all. */
  events(opts?: { service?: string; limit?: number; afterId?: number }): StoredEvent[];
  putInstance(record: InstanceRecord): void;
  deleteInstance(id: string): void;
  instances(): InstanceRecord[];
  close(): void;
}
