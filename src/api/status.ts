import type { Controller } from '../controller/controller.ts';
import type { Rollout, ServicePhase } from '../core/model.ts';

/** One instance as `cutover status` shows it. */
export interface InstanceView {
  id: string;
  revision: number;
  version: string;
  port: number;
  pid?: number;
  /** starting, ready, draining, backoff (crashed, waiting to restart). */
  state: 'starting' | 'ready' | 'draining' | 'backoff';
  restarts: number;
  readySince?: number;
  lastProbeError?: string;
}

export interface RolloutView extends Rollout {
  version: string;
  /** Live instances of the target revision / available among them / old ones left / draining. */
  progress: { current: number; available: number; old: number; draining: number; replicas: number };
}

export interface ServiceStatus {
  name: string;
  phase: ServicePhase;
  message?: string;
  strategy: string;
  replicas: number;
  route: { host: string; pathPrefix: string };
  stable: { revision: number; version: string };
  rollout?: RolloutView;
  lastRollout?: Rollout;
  instances: InstanceView[];
}

/** The status document of one service (the API's and the CLI's view). */
export function serviceStatus(c: Controller, name: string): ServiceStatus | undefined {
  const svc = c.service(name);
  const state = c.state(name);
  if (!svc || !state) return undefined;
  const instances: InstanceView[] = c.instances(name).map((i) => ({
    id: i.id,
    revision: i.revision,
    version: i.version,
    port: i.port,
    pid: i.pid,
    state: c.isLeaving(i.id)
      ? 'draining'
      : i.phase === 'backoff'
        ? 'backoff'
        : i.ready && i.phase === 'running'
          ? 'ready'
          : 'starting',
    restarts: i.restarts,
    readySince: i.readySince,
    lastProbeError: i.lastProbeError,
  }));
  instances.sort((a, b) => a.revision - b.revision || (a.id < b.id ? -1 : 1));
  const stableRev = state.revisions.find((r) => r.number === state.stable);
  let rollout: RolloutView | undefined;
  if (state.rollout) {
    const to = state.rollout.to;
    const live = instances.filter((i) => i.state !== 'draining');
    rollout = {
      ...state.rollout,
      version: state.revisions.find((r) => r.number === to)?.version ?? '?',
      progress: {
        current: live.filter((i) => i.revision === to).length,
        available: live.filter((i) => i.revision === to && i.state === 'ready').length,
        old: live.filter((i) => i.revision !== to).length,
        draining: instances.length - live.length,
        replicas: svc.replicas,
      },
    };
  }
  return {
    name,
    phase: state.phase,
    message: state.message,
    strategy: svc.strategy.type,
    replicas: svc.replicas,
    route: svc.route,
    stable: { revision: state.stable, version: stableRev?.version ?? '?' },
    rollout,
    lastRollout: state.lastRollout,
    instances,
  };
}
