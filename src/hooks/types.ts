import type { Logger } from '../log/logger.ts';

export interface HookContext {
  service: string;
  revision: number;
  version: string;
  /** `http://127.0.0.1:PORT` of a ready instance of the new revision (absent for preRollout). */
  targetUrl?: string;
  /** Working directory of the command (the service's `run.cwd`). */
  cwd: string;
  log: Logger;
  /** Aborting kills the command (like a timeout) / cancels the request; the result is not ok. */
  signal?: AbortSignal;
}

export interface HookResult {
  ok: boolean;
  /** Command: the last 4 KB of stdout+stderr. HTTP: the status line + the first 1 KB of the body. */
  output: string;
  durationMs: number;
  /** Why it failed: "timed out after 10s", "exit code 3", "GET http://..: 503", "GET http://..: ECONNREFUSED". */
  error?: string;
}

/** A hook's result before it is timed. */
export type HookOutcome = Omit<HookResult, 'durationMs'>;
