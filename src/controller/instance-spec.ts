import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { substituteRun } from '../config/template.ts';
import type { ServiceConfig } from '../config/types.ts';
import type { Revision } from '../core/model.ts';
import type { InstanceSpec } from '../runtime/types.ts';

/** A new instance id, e.g. `web-3-k2x9ab`: unique beyond this controller's lifetime (it is persisted). */
export function newInstanceId(service: string, revision: number): string {
  return `${service}-${revision}-${randomBytes(3).toString('hex')}`;
}

/** What the host runs for an instance of `revision`: its run spec with the revision's variables, probes, log file. */
export function instanceSpec(
  svc: ServiceConfig,
  revision: Revision,
  id: string,
  dataDir: string,
): InstanceSpec {
  const run = substituteRun(revision.run, {
    VERSION: revision.version,
    SERVICE: svc.name,
    REVISION: String(revision.number),
  });
  return {
    id,
    service: svc.name,
    revision: revision.number,
    version: revision.version,
    run,
    readiness: svc.readiness,
    liveness: svc.liveness,
    logFile: path.join(dataDir, 'logs', svc.name, `${id}.log`),
    logMaxBytes: svc.logMaxBytes,
    restartBackoffMs: svc.restartBackoffMs,
    restartBackoffMaxMs: svc.restartBackoffMaxMs,
    stopTimeoutMs: svc.stopTimeoutMs,
  };
}
