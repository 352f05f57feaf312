// Shared fixtures of the core's table tests (imported by *.test.ts only).
import type { AnalysisConfig, RunSpec } from '../config/types.ts';
import type { HostReport, HostServiceReport } from './fleet/model.ts';
import type { ObservedInstance, RollingRollout } from './model.ts';

export const run: RunSpec = { command: 'x', cwd: '/', env: {} };

/** A rolling deploy from revision 1 to 2, in progress since 0. */
export const rollingDeploy = (extra: Partial<RollingRollout> = {}): RollingRollout => ({
  strategy: 'rolling',
  kind: 'deploy',
  from: 1,
  to: 2,
  phase: 'Progressing',
  startedAt: 0,
  lastProgressAt: 0,
  progressKey: '',
  ...extra,
});

/** One error-rate metric, no delays or limits: a verdict as soon as the counts allow one. */
export const analysis: AnalysisConfig = {
  intervalMs: 1000,
  initialDelayMs: 0,
  failureLimit: 0,
  consecutiveErrorLimit: 4,
  inconclusiveLimit: 0,
  minRequests: 50,
  alpha: 0.01,
  metrics: [{ name: 'errors', type: 'errorRate', max: 0.01 }],
};

/** An instance of `revision` that is ready (since `readySince`). */
export const ready = (id: string, revision: number, readySince = 0): ObservedInstance => ({
  id,
  revision,
  state: 'ready',
  readySince,
  restarts: 0,
});

/** A fleet host's heartbeat as the table tests play it: `web` is its one service's report. */
export const hostReport = (host: string, web: HostServiceReport): HostReport => ({
  host,
  advertise: host,
  controlPort: 1,
  gatewayPort: 2,
  startedAt: 0,
  reportedAt: 0,
  drained: false,
  configHash: 'x',
  services: { web },
});
