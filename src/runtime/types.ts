import type { ProbeConfig, RunSpec } from '../config/types.ts';

/** Everything the supervisor needs to run one instance. */
export interface InstanceSpec {
  /** e.g. `web-3-k2x9`; unique for the controller's lifetime and beyond (persisted). */
  id: string;
  service: string;
  revision: number;
  version: string;
  /** `${VERSION}` already substituted; the supervisor substitutes `${PORT}` and `${INSTANCE}` (command and env). */
  run: RunSpec;
  readiness: ProbeConfig;
  liveness?: ProbeConfig;
  /** Absolute path; stdout and stderr are appended here (bounded, see logMaxBytes). */
  logFile: string;
  logMaxBytes: number;
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  /** SIGTERM -> SIGKILL delay used when liveness fails and the process must be restarted. */
  stopTimeoutMs: number;
}

/**
 * starting: process spawned, not yet ready; running: process alive (ready or not);
 * backoff: crashed, waiting to restart; stopping: SIGTERM sent; stopped: gone for good.
 */
export type InstancePhase = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export interface InstanceStatus {
  id: string;
  service: string;
  revision: number;
  version: string;
  pid?: number;
  port: number;
  phase: InstancePhase;
  /** Readiness probe verdict (thresholds applied). False whenever the process is not alive. */
  ready: boolean;
  /** Epoch ms at which `ready` last became true (undefined while not ready). */
  readySince?: number;
  /** Epoch ms the first process of this instance was spawned. */
  createdAt: number;
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; at: number };
  lastProbeError?: string;
  /** Latest supervisor-side failure (spawn error, log file not writable); undefined if none. */
  lastError?: string;
}
