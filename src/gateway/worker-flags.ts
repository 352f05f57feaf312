/**
 * The Node flags a gateway worker process starts with: the master's own (`process.execArgv`, as `fork`
 * passes by default, so a `--conditions` or loader flag reaches the workers), then whatever
 * `CUTOVER_WORKER_NODE_FLAGS` adds. The variable exists for profiling the worker alone under load
 * (`--cpu-prof`, `--heap-prof`, `--trace-gc`; see docs/performance.md) without profiling the master and
 * without touching the settings file; it is not a tuning knob the gateway needs.
 */

/** The environment variable read once per fork: Node flags separated by whitespace. */
export const WORKER_FLAGS_ENV = 'CUTOVER_WORKER_NODE_FLAGS';

export function workerExecArgv(
  base: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const extra = (env[WORKER_FLAGS_ENV] ?? '').split(/\s+/).filter((f) => f !== '');
  return [...base, ...extra];
}
