/** A fleet command as submitted through etcd, and its answer. */
import type { RunSpec } from '../config/types.ts';

export type FleetCommandType = 'deploy' | 'abort' | 'pause' | 'resume' | 'undo' | 'promote';

export interface FleetCommand {
  id: string;
  service: string;
  type: FleetCommandType;
  version?: string;
  run?: RunSpec;
  /** promote: skip the hosts' analysis gates. */
  full?: boolean;
  actor: string;
  at: number;
}

export interface FleetCommandAnswer {
  ok: boolean;
  code?: string;
  message: string;
  generation?: number;
}
