/** Messages between the gateway master and its workers (Node IPC, JSON serialization). */
import type { GatewaySettings, RouteTable, ServiceStats } from './protocol.ts';

export type MasterToWorker =
  /** Sent with the listening handle as the second argument of `child.send`. */
  | { type: 'init'; settings: GatewaySettings; table: RouteTable }
  | { type: 'routes'; id: number; table: RouteTable }
  | { type: 'inflight'; id: number }
  | { type: 'stats'; id: number }
  | { type: 'shutdown' };

export type WorkerToMaster =
  | { type: 'listening' }
  | { type: 'ack'; id: number; version: number }
  | { type: 'inflight'; id: number; instances: Record<string, number> }
  | { type: 'stats'; id: number; services: Record<string, ServiceStats> };
